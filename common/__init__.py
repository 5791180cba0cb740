"""What the entry points share (no entry points here; the networks are in symbol/).

Importing this package, or any module of it, changes nothing in the process; entry points
that use mxnet call ``common.runtime.configure()`` first. Where a concern lives:
runtime (thread defaults, oneDNN kernels, devices, training form), cli (parser, logging,
one-line errors), train (the training scripts' parser and network), fit (the training
loop), supervision (watchdog, stop on signal), schedule (learning rates), data (data
flags and iterators), memory_data (small sets decoded once), training_log (the log's
lines and reader; images/s), evaluate (scoring every image once), checkpoint (checkpoint
files), module (the Module that keeps parameters in the released layout), inference
(binding for inference), protocol (how a checkpoint is fed, from its model info), complexity (parameters and multiply-adds), classes (class-name files), recordio, recfile
and atomic (writing files), safe_pickle (untrusted pickles), progress (progress lines),
errors (UserError).
"""
