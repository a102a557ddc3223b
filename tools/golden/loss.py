#!/usr/bin/python3
"""PyTorch golden fixtures for the loss family: tests/data/golden/loss-*.txt.

Pins the semantic traps:
  - cross_entropy with class weights + ignore_index + label_smoothing: the smoothing term is
    -sum_c w_c logp_c * eps / C, and for mean BOTH terms are divided by the sum of the weights of the
    non-ignored targets (LossNLL.cpp cross_entropy_loss_label_smoothing); ignore_index inside [0, C);
  - nll_loss with weights + ignore_index (mean divides by the summed target weights), 2-D and 4-D;
  - bce_loss's log clamp at -100 (inputs exactly 0 and 1 give a loss of 100, the input gradient
    (x - y) / max(x (1 - x), 1e-12));
  - bce_with_logits_loss with pos_weight and logits of +-100 (the stable form must not overflow);
  - triplet_margin_loss: eps is added to the difference, swap takes min(d(a,n), d(p,n)) and a tie
    splits the gradient in half (at::minimum), the hinge passes the gradient at exactly 0;
  - smooth_l1_loss with beta 0.5 at |x - y| = beta and 0, beta = 0 whose gradient at x == y is -1
    (PyTorch tests x <= -beta first), l1_loss's 0 gradient at x == y, margin_ranking_loss's hinge;
  - margin_ranking_loss's gradient of y (PyTorch lets y be learned);
  - contrastive_loss computed by its formula over F.pairwise_distance (eps in the difference; d = 0
    with eps = 0 has a zero gradient), cosine_embedding_loss with a zero row (EPS 1e-12), y neither 1
    nor -1 (loss 0, counted by the mean) and cos exactly at the margin.
Inputs are float32 values; torch computes in float64 so the expected values carry no float32 error.

Run: /usr/bin/python3 tools/golden/loss.py
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_common import write_case  # noqa: E402

torch.manual_seed(20261127)


def f32(t):
    return t.float().double()


def run(name, op, args, fn, inputs, diff, reduction, comment, tol=1e-5):
    """fn(*inputs) -> loss; diff: indices of the inputs whose gradient is checked."""
    xs = [t.clone().requires_grad_(i in diff) for i, t in enumerate(inputs)]
    out = fn(*xs)
    g = f32(torch.rand(out.shape) * 2 - 1) if reduction == "none" else torch.tensor(0.75, dtype=torch.float64)
    out.backward(g)
    write_case(name, op, args, True, [t.detach() for t in xs], grad_out=g, out=out.detach(),
               grad_in={i: xs[i].grad for i in diff}, comment=comment, tol=tol)


def targets(shape, c, ignore, frac=0.3):
    t = torch.randint(0, c, shape)
    mask = torch.rand(shape) < frac
    mask.view(-1)[0] = False  # never everything ignored
    return torch.where(mask, torch.full(shape, ignore), t).double()


def class_cases():
    w4 = f32(torch.tensor([0.5, 2.0, 1.5, 1.0]))
    wargs = "weight=(0.5, 2, 1.5, 1)"
    x = f32(torch.randn(6, 4) * 1.5)
    t = targets((6,), 4, -100)
    for red in ("mean", "sum", "none"):
        run("loss-ce-smooth-weight-ignore-" + red, "cross_entropy",
            "%s, ignore_index=-100, label_smoothing=0.1, reduction=%s" % (wargs, red),
            lambda a, b, red=red: F.cross_entropy(a, b.long(), weight=w4, ignore_index=-100, label_smoothing=0.1,
                                                  reduction=red),
            [x, t], [0], red, "cross_entropy: class weights + ignore_index + label smoothing, reduction " + red)
    x = f32(torch.randn(2, 4, 3, 5))
    t = targets((2, 3, 5), 4, 2, frac=0.0)  # ignore_index=2 is a real class here
    run("loss-ce-4d-ignore-in-range", "cross_entropy",
        "%s, ignore_index=2, label_smoothing=0.2" % wargs,
        lambda a, b: F.cross_entropy(a, b.long(), weight=w4, ignore_index=2, label_smoothing=0.2),
        [x, t], [0], "mean", "cross_entropy (N,C,H,W): ignore_index=2 inside [0, C), weights, smoothing 0.2")
    x = f32(torch.randn(5, 1))
    t = torch.zeros(5).double()
    run("loss-ce-one-class", "cross_entropy", "label_smoothing=0.3",
        lambda a, b: F.cross_entropy(a, b.long(), label_smoothing=0.3), [x, t], [0], "mean",
        "cross_entropy with C=1: log-softmax is 0, loss and gradient 0")
    x = f32(torch.log_softmax(torch.randn(6, 4), 1))
    t = targets((6,), 4, -100)
    for red in ("mean", "sum", "none"):
        run("loss-nll-weight-ignore-" + red, "nll_loss", "%s, reduction=%s" % (wargs, red),
            lambda a, b, red=red: F.nll_loss(a, b.long(), weight=w4, reduction=red), [x, t], [0], red,
            "nll_loss: class weights + ignore_index -100, reduction " + red)
    x = f32(torch.log_softmax(torch.randn(3, 4, 2, 5), 1))
    t = targets((3, 2, 5), 4, 7)
    run("loss-nll-4d-weight-ignore", "nll_loss", "%s, ignore_index=7" % wargs,
        lambda a, b: F.nll_loss(a, b.long(), weight=w4, ignore_index=7), [x, t], [0], "mean",
        "nll_loss (N,C,H,W): mean divides by the summed weights of the non-ignored targets")


def binary_cases():
    x = f32(torch.tensor([0.0, 1.0, 0.0, 1.0, 0.3, 0.8, 1e-30, 0.5]))
    y = f32(torch.tensor([1.0, 0.0, 0.0, 1.0, 0.25, 1.0, 1.0, 0.5]))
    for red in ("none", "mean"):
        # the target gradient -logit(x) is infinite at x = 0 or 1: checked elsewhere on finite inputs
        run("loss-bce-clamp-" + red, "bce_loss", "reduction=" + red,
            lambda a, b, red=red: F.binary_cross_entropy(a, b, reduction=red), [x, y], [0], red,
            "bce_loss: log clamped at -100, so x = 0 with y = 1 (and x = 1 with y = 0) costs 100; input "
            "gradient (x - y) / max(x (1 - x), 1e-12)")
    x = f32(torch.rand(3, 4) * 0.9 + 0.05)
    y = f32(torch.rand(3, 4))
    run("loss-bce-sum", "bce_loss", "reduction=sum", lambda a, b: F.binary_cross_entropy(a, b, reduction="sum"),
        [x, y], [0, 1], "sum", "bce_loss on (0, 1): input and target gradients (target: -logit(x))")
    pw = f32(torch.tensor([0.5, 1.0, 3.0, 2.0]))
    x = f32(torch.tensor([[-100.0, 100.0, -30.0, 30.0], [0.0, -2.5, 1.5, 40.0], [-0.5, 20.0, -100.0, 100.0]]))
    y = f32(torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.5, 1.0, 0.0, 0.25], [1.0, 0.0, 0.0, 1.0]]))
    for red in ("none", "mean"):
        run("loss-bce-logits-posweight-large-" + red, "bce_with_logits_loss",
            "pos_weight=(0.5, 1, 3, 2), reduction=" + red,
            lambda a, b, red=red: F.binary_cross_entropy_with_logits(a, b, pos_weight=pw, reduction=red),
            [x, y], [0, 1], red, "bce_with_logits_loss: pos_weight along the last dim, logits up to +-100")
    run("loss-bce-logits-sum", "bce_with_logits_loss", "reduction=sum",
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="sum"), [x, y], [0, 1], "sum",
        "bce_with_logits_loss without pos_weight: target gradient -x")


def triplet_cases():
    a = f32(torch.randn(5, 6))
    p = f32(a + torch.randn(5, 6) * 0.8)
    n = f32(a + torch.randn(5, 6) * 0.8)
    n[1] = f32(p[1] + torch.randn(6) * 0.1)  # rows where d(p,n) < d(a,n): swap changes the loss
    n[3] = f32(p[3] + torch.randn(6) * 0.1)
    for pn in (2, 1):
        run("loss-triplet-swap-p%d" % pn, "triplet_margin_loss", "p=%d, swap=true, reduction=none" % pn,
            lambda u, v, w, pn=pn: F.triplet_margin_loss(u, v, w, p=pn, swap=True, reduction="none"),
            [a, p, n], [0, 1, 2], "none", "triplet_margin_loss, swap, p=%d: d = ||u - v + eps||_p" % pn)
    run("loss-triplet-p3-mean", "triplet_margin_loss", "p=3, margin=0.5",
        lambda u, v, w: F.triplet_margin_loss(u, v, w, p=3, margin=0.5), [a, p, n], [0, 1, 2], "mean",
        "triplet_margin_loss with p=3, margin 0.5")
    # row 0: a swap tie (d(a,n) == d(p,n) == 1, eps=0); row 1: hinge exactly 0 (margin 0.5 + 1 - 1.5)
    a = f32(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    p = f32(torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))
    n = f32(torch.tensor([[0.0, 0.0], [0.0, 1.5]]))
    run("loss-triplet-kinks", "triplet_margin_loss", "margin=0.5, eps=0, swap=true, reduction=sum",
        lambda u, v, w: F.triplet_margin_loss(u, v, w, margin=0.5, eps=0.0, swap=True, reduction="sum"),
        [a, p, n], [0, 1, 2], "sum", "triplet_margin_loss kinks: a swap tie splits the gradient in half; the "
        "hinge at exactly 0 passes the gradient (clamp_min)")


def elementwise_cases():
    x = f32(torch.tensor([[0.0, 0.5, -0.5, 1.25, 0.2], [2.0, -3.0, 0.7, 0.3, -0.45]]))
    y = f32(torch.tensor([[0.0, 0.0, 0.0, 0.0, 0.4], [1.0, -1.0, 0.7, 1.0, 0.0]]))
    for red in ("none", "mean"):
        run("loss-smooth-l1-beta05-" + red, "smooth_l1_loss", "beta=0.5, reduction=" + red,
            lambda a, b, red=red: F.smooth_l1_loss(a, b, beta=0.5, reduction=red), [x, y], [0, 1], red,
            "smooth_l1_loss beta 0.5, including |x - y| = 0 and |x - y| = beta")
    run("loss-smooth-l1-beta0", "smooth_l1_loss", "beta=0, reduction=sum",
        lambda a, b: F.smooth_l1_loss(a, b, beta=0.0, reduction="sum"), [x, y], [0, 1], "sum",
        "smooth_l1_loss beta 0: l1 values, but the gradient at x == y is -1 (x <= -beta is tested first)")
    run("loss-l1-equal", "l1_loss", "reduction=mean", lambda a, b: F.l1_loss(a, b), [x, y], [0, 1], "mean",
        "l1_loss: gradient sign(x - y), 0 where x == y")
    run("loss-mse-sum", "mse_loss", "reduction=sum", lambda a, b: F.mse_loss(a, b, reduction="sum"), [x, y],
        [0, 1], "sum", "mse_loss, sum")
    x1 = f32(torch.tensor([1.0, 0.5, -0.25, 2.0, 0.0]))
    x2 = f32(torch.tensor([1.0, 1.0, 0.5, -1.0, 0.25]))
    yy = f32(torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0]))
    run("loss-margin-ranking-hinge", "margin_ranking_loss", "margin=0.25, reduction=none",
        lambda a, b, c: F.margin_ranking_loss(a, b, c, margin=0.25, reduction="none"), [x1, x2, yy], [0, 1, 2],
        "none", "margin_ranking_loss: element 4 sits exactly on the hinge (-y (x1 - x2) + margin = 0): gradient "
        "passes, to y too")


def pair_cases():
    # margin_ranking_loss with a learned y (PyTorch differentiates it: dL/dy = -(x1 - x2) where the hinge is on)
    x1 = f32(torch.randn(7))
    x2 = f32(torch.randn(7))
    yy = f32(torch.tensor([0.5, -2.0, 1.5, -0.75, 1.0, -1.0, 3.0]))
    run("loss-margin-ranking-learned-y", "margin_ranking_loss", "margin=0.1, reduction=mean",
        lambda a, b, c: F.margin_ranking_loss(a, b, c, margin=0.1), [x1, x2, yy], [0, 1, 2], "mean",
        "margin_ranking_loss with y of any value and requires_grad: gradients of x1, x2 and y")

    def contrastive(margin, eps, red):
        def fn(a, b, y):
            d = F.pairwise_distance(a, b, p=2, eps=eps)
            loss = y * d.pow(2) / 2 + (1 - y) * (margin - d).clamp(min=0).pow(2) / 2
            return loss if red == "none" else loss.mean() if red == "mean" else loss.sum()
        return fn

    # rows: near similar, near dissimilar (hinge on), far dissimilar (hinge off), far similar, x1 == x2
    # (d = eps sqrt(D): the dissimilar pull is (eps / d) per element), a soft label 0.25
    a = f32(torch.randn(6, 5) * 0.5)
    b = f32(a + torch.randn(6, 5) * 0.15)
    b[2] = f32(a[2] + torch.randn(5) * 2)
    b[3] = f32(a[3] + torch.randn(5) * 2)
    b[4] = a[4]
    y = f32(torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 0.25]))
    for red in ("none", "mean"):
        run("loss-contrastive-" + red, "contrastive_loss", "margin=1.0, reduction=" + red,
            contrastive(1.0, 1e-6, red), [a, b, y], [0, 1], red,
            "contrastive_loss by its formula over pairwise_distance (eps 1e-6 added to the difference); y = 1 "
            "similar, 0 dissimilar; row 4 has x1 == x2, row 5 a soft label")
    # eps = 0 and x1 == x2: d = 0, where the norm's gradient is 0 (row 0); a row exactly on the margin (row 1)
    a = f32(torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0], [1.0, 1.0, 0.0]]))
    b = f32(torch.tensor([[0.5, -1.0, 2.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.0]]))
    y = f32(torch.tensor([0.0, 0.0, 1.0]))
    run("loss-contrastive-kinks", "contrastive_loss", "margin=2, eps=0, reduction=sum", contrastive(2.0, 0.0, "sum"),
        [a, b, y], [0, 1], "sum", "contrastive_loss with eps=0: d = 0 gives a zero gradient (norm backward), "
        "d == margin gives 0 from both sides")

    a = f32(torch.randn(7, 6))
    b = f32(torch.randn(7, 6))
    b[1] = f32(a[1] * 0.5 + torch.randn(6) * 0.1)
    a[4] = 0.0  # a zero row: cos = 0 through EPS = 1e-12, gradient x2 / sqrt(1e-12 |x2|^2)
    y = f32(torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, 0.0, 2.0]))
    for red in ("none", "mean"):
        run("loss-cosine-embedding-" + red, "cosine_embedding_loss", "margin=0.25, reduction=" + red,
            lambda u, v, t, red=red: F.cosine_embedding_loss(u, v, t, margin=0.25, reduction=red), [a, b, y], [0, 1],
            red, "cosine_embedding_loss: a zero row (EPS 1e-12 in each magnitude); y = 0 and y = 2 are neither 1 nor "
            "-1: loss 0, still counted by the mean")
    # cos exactly at the margin 0 with y = -1: clamp_min passes the gradient; a zero x1 with y = -1 too
    a = f32(torch.tensor([[1.0, 0.0], [0.0, 0.0], [3.0, 4.0]]))
    b = f32(torch.tensor([[0.0, 2.0], [1.0, -1.0], [-3.0, -4.0]]))
    y = f32(torch.tensor([-1.0, -1.0, 1.0]))
    run("loss-cosine-embedding-kinks", "cosine_embedding_loss", "reduction=sum",
        lambda u, v, t: F.cosine_embedding_loss(u, v, t, reduction="sum"), [a, b, y], [0, 1], "sum",
        "cosine_embedding_loss at cos == margin (0) with y = -1: the gradient passes (clamp_min); cos = -1 with y = 1")
    a = f32(torch.randn(9))
    b = f32(torch.randn(9))
    run("loss-cosine-embedding-unbatched", "cosine_embedding_loss", "margin=-0.5",
        lambda u, v, t: F.cosine_embedding_loss(u, v, t, margin=-0.5), [a, b, f32(torch.tensor(-1.0))], [0, 1],
        "mean", "cosine_embedding_loss of (D) inputs with a 0-dim y")


class_cases()
binary_cases()
triplet_cases()
elementwise_cases()
pair_cases()  # last: the fixtures above keep their random draws
