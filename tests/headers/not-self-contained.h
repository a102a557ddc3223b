/* A header that uses size_t without including <stddef.h>: test-headers.sh must reject it. */
#ifndef NOT_SELF_CONTAINED_H
#define NOT_SELF_CONTAINED_H
size_t not_self_contained(void);
#endif
