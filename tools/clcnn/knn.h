/*
 * Nearest neighbours of embeddings, for evaluating a model trained with --pairs: k-NN
 * classification accuracy against a gallery (the training split) and recall@1 within one split.
 * Distances are Euclidean (what triplet_margin_loss and contrastive_loss train); no device needed.
 */
#ifndef CLCNN_CLI_KNN_H
#define CLCNN_CLI_KNN_H

#define KNN_MAX_K 64

/*
 * For each of nq queries (dim floats each, row after row), the indices of its k nearest gallery
 * rows, nearest first (equal distances: the lower index first), into nn (nq * k ints). With
 * exclude_self, queries and gallery are one set and query i never gets gallery row i. Rows missing
 * (a gallery smaller than k) are -1. 0, or -1 when out of memory or k is not 1..KNN_MAX_K.
 */
int knn_search(const float *gallery, int ng, const float *queries, int nq, int dim, int k, int exclude_self, int *nn);
/*
 * Fraction of queries whose label is the majority label of their first k neighbours in nn (rows of
 * stride neighbours each). A tie between labels goes to the one with the nearer neighbour.
 */
double knn_accuracy(const int *nn, int nq, int stride, int k, const float *gallery_labels, const float *query_labels);
#endif
