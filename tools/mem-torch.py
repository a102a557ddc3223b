#!/usr/bin/python3
"""PyTorch's training memory for torchvision's ResNet-18, by a careful count (not a timing).

usage: tools/mem-torch.py [--batch 32] [--size 224] [--classes 1000]

What one training step of PyTorch 1.13 holds at its peak, in bytes of float32 tensors:
  saved      every tensor autograd saves for backward during forward, counted once per storage
             (torch.autograd.graph.saved_tensors_hooks records each packed tensor's untyped
             storage; ReLU(inplace=True) writes over batchnorm's output, and the next conv saves
             that same storage: one storage, counted once), less the parameters' own storages;
             max pooling's int64 indices are saved tensors and are counted.
  params     parameters and buffers (running statistics, num_batches_tracked)
  grads      one gradient per trainable parameter
  transient  the largest moment of backward beyond the saved tensors: the gradient flowing into
             the largest activation and the one it produces, 2 x the largest activation (the stem's
             conv output), which is what a liveness-planned backward must hold at least
  input      the image batch and the labels (also what the first conv saves: not counted twice)
Peak = saved + params + grads + transient (+ the input when no saved tensor holds it). Compare
with `clcnn graph models/resnet18.net --plan --batch 32` ("allocated" and the backward peak).
Runs one forward in training mode on the CPU (one thread), no backward.
"""
import argparse

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--classes", type=int, default=1000)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=a.classes)
    model.train()
    nparam = sum(p.numel() for p in model.parameters())
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    buffer_bytes = sum(b.numel() * b.element_size() for b in model.buffers())
    grad_bytes = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    param_storages = {p.untyped_storage().data_ptr() if hasattr(p, "untyped_storage") else p.storage().data_ptr()
                      for p in model.parameters()}

    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.randint(0, a.classes, (a.batch,))
    storages = {}
    largest = [0]

    def storage_of(t):
        s = t.untyped_storage() if hasattr(t, "untyped_storage") else t.storage()
        return s.data_ptr(), s.nbytes()

    def pack(t):
        ptr, nbytes = storage_of(t)
        if ptr not in param_storages:
            storages[ptr] = max(storages.get(ptr, 0), nbytes)
        return t

    def track(mod, inp, out):
        if isinstance(out, torch.Tensor):
            largest[0] = max(largest[0], out.numel() * out.element_size())

    for m in model.modules():
        m.register_forward_hook(track)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = torch.nn.functional.cross_entropy(model(x), y)
    saved = sum(storages.values())
    input_bytes = x.numel() * x.element_size() + y.numel() * y.element_size()
    input_saved = storage_of(x)[0] in storages
    transient = 2 * largest[0]
    peak = saved + param_bytes + buffer_bytes + grad_bytes + transient + (0 if input_saved else input_bytes)
    mib = 1048576.0
    print(f"torchvision resnet18, batch {a.batch}, {a.size}x{a.size}, {a.classes} classes, "
          f"torch {torch.__version__}: {nparam} parameters")
    print(f"  saved for backward  {saved / mib:10.2f} MiB in {len(storages)} storages"
          f" (the input {'among them' if input_saved else 'not among them'})")
    print(f"  parameters+buffers  {(param_bytes + buffer_bytes) / mib:10.2f} MiB")
    print(f"  gradients           {grad_bytes / mib:10.2f} MiB")
    print(f"  transient           {transient / mib:10.2f} MiB (2 x the largest activation)")
    print(f"peak training memory  {peak / mib:10.2f} MiB (optimizer state not included); loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
