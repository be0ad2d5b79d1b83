"""From a bare GPU machine to a trained ``dvs128_paper`` and measured GPU figures in one command.

    python -m tools.gpu_run OUT_DIR --minutes 10          # on a CUDA machine
    python -m tools.gpu_run OUT_DIR --dry-run             # the same steps on the CPU, tiny (the test suite)

Steps (each child process has a time limit; OUT_DIR/gpu_report.json says how each ended):

1. ``env``: CUDA visible, torch's CUDA build usable with the driver and the GPU (one line if not);
2. ``data`` (CPU, every core) in parallel with ``probe`` (GPU: one training step, then the
   largest batch that fits) and ``compile`` warm-up (fills torch.compile's cache);
3. ``train``: ``model.train`` (``torchrun`` over every GPU when there are several), mixed
   precision, channels-last, checkpoint every epoch, stopped in time by ``--time-budget-s``;
4. ``measure``: simulated test accuracy, decisions changed between fp32 and half precision,
   batch-1 latency (fp32, fp16, bf16), the live pipeline's latency on the demo recording; then
   the compiled latency (``torch.compile``) in a process of its own;
5. writes OUT_DIR: ``<config>.pt``, ``<config>.md`` (model card), ``training_curve.png``,
   ``log.jsonl`` and ``gpu_report.json`` (a few MB). Data and scratch stay in ``OUT_DIR-work``.
"""
