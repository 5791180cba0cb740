"""Where and how this process computes: thread defaults, oneDNN kernels, devices, and the
graph form a training run uses.

``configure()`` is the first step of every entry point that uses mxnet, before mxnet is
imported (a library user calls it the same way); importing this module changes nothing.
"""
import logging
import os

from .errors import UserError

# oneDNN ISA for CPU training; see use_training_kernels.
TRAINING_ISA = 'AVX2'


def configure():
    """CPU defaults, each only where the user has not set the variable (docs/speed.md):
    - OMP_NUM_THREADS: every core (MXNet's OpenMP otherwise uses half of them, which
      halves CPU speed on small machines);
    - MXNET_USE_OPERATOR_TUNING=0: MXNet's operator tuning runs cheap elementwise ops
      (ReLU6's scalar minimum, additions) on one thread; off, they use every core.
    Call it before mxnet is imported: MXNet reads them when it loads."""
    os.environ.setdefault('OMP_NUM_THREADS', str(os.cpu_count() or 1))
    os.environ.setdefault('MXNET_USE_OPERATOR_TUNING', '0')


def use_training_kernels():
    """Cap oneDNN at AVX2 kernels for CPU training, unless DNNL_MAX_CPU_ISA is set (the
    training forms that are not padded; training_network decides).

    On AVX-512 CPUs oneDNN lays activations out in blocks of 16 channels, but in blocks
    of 8 around convolutions whose input channels are not a multiple of 16 (IGCV3's 24).
    When the two meet, MXNet 1.9 hands oneDNN a BatchNorm backward whose data and
    gradient layouts differ, and oneDNN runs its reference kernel, two orders of magnitude
    slower. With AVX2 kernels every layout has blocks of 8 (docs/speed.md). Inference keeps
    the AVX-512 kernels (it has no BatchNorm backward). Call it before the process runs
    its first oneDNN operator; oneDNN reads the variable once. Returns the ISA in effect.
    """
    return os.environ.setdefault('DNNL_MAX_CPU_ISA', TRAINING_ISA)


def one_blocking_kernels():
    """True when DNNL_MAX_CPU_ISA caps oneDNN at AVX2 or below, so that every activation
    has one blocking and BatchNorm may be fused with ReLU in training
    (symbol.forms.Form.CPU_TRAINING_FUSED)."""
    return os.environ.get('DNNL_MAX_CPU_ISA', '').upper() in ('SSE41', 'AVX', 'AVX2')


def get_devices(gpus):
    """--gpus: None -> every visible GPU, else the CPU; '' -> the CPU; '0,1' -> those."""
    import mxnet as mx
    if gpus is None:
        n = mx.context.num_gpus()
        devices = [mx.gpu(i) for i in range(n)] or [mx.cpu()]
        logging.info('--gpus not given: using %s', ', '.join(str(d) for d in devices))
        return devices
    if not gpus.strip():
        return [mx.cpu()]
    try:
        ids = [int(i) for i in gpus.split(',')]
    except ValueError:
        raise UserError("--gpus '%s' must be comma-separated GPU numbers, or '' for the CPU" % gpus)
    if min(ids) < 0:
        raise UserError("--gpus '%s': GPU numbers start at 0; use --gpus \"\" for the CPU" % gpus)
    available = mx.context.num_gpus()
    missing = [i for i in ids if i >= available]
    if missing:
        raise UserError('--gpus %s: this machine has %d GPU(s); use --gpus "" for the CPU'
                        % (gpus, available))
    return [mx.gpu(i) for i in ids]


def cpu_flags():
    """The CPU's feature flags (/proc/cpuinfo); empty where it cannot be read."""
    try:
        with open('/proc/cpuinfo') as f:
            return next((line.split(':', 1)[1].split() for line in f
                         if line.startswith('flags')), [])
    except OSError:
        return []


AVX512_CORE_FLAGS = ('avx512f', 'avx512bw', 'avx512vl', 'avx512dq')


def cpu_has_avx512():
    """True when this CPU has the AVX-512 subsets of oneDNN's avx512_core kernels."""
    flags = cpu_flags()
    return all(flag in flags for flag in AVX512_CORE_FLAGS)


def cpu_has_bf16():
    """True when this CPU computes bfloat16 natively (AVX512_BF16, oneDNN's
    avx512_core_bf16 kernels)."""
    flags = cpu_flags()
    return all(flag in flags for flag in AVX512_CORE_FLAGS + ('avx512_bf16',))


def check_dtype(dtype, devices, form):
    """A UserError unless --dtype ``dtype`` trains on ``devices`` in ``form``: bfloat16 is
    the CPU's (padded training form, AVX512_BF16)."""
    from symbol import Form
    if dtype != 'bfloat16':
        return
    if any(d.device_type != 'cpu' for d in devices):
        raise UserError('--dtype bfloat16 is for CPUs with AVX512_BF16; on GPUs use '
                        '--dtype float16')
    if not cpu_has_bf16():
        raise UserError('--dtype bfloat16 needs a CPU with AVX512_BF16, which this one does '
                        'not have (/proc/cpuinfo); use --dtype float32')
    if form is not Form.CPU_TRAINING_PADDED:
        raise UserError('--dtype bfloat16 trains the padded CPU training form under oneDNN\'s '
                        'AVX-512 kernels, which this run does not use (see the line above); '
                        'use --dtype float32')


def training_network(fast_group_conv, devices, build, data_shape):
    """(form, symbol) a run trains, ``build(form)`` making the symbol (data_shape: the
    batch's). On an AVX-512 CPU, unless DNNL_MAX_CPU_ISA is set or --fast-group-conv is 0:
    the padded training form (symbol.forms.Form.CPU_TRAINING_PADDED) under oneDNN's
    AVX-512 kernels, when the network builds in it with every activation's channel count
    a multiple of 16 (symbol.training_form.unblocked_activations). Otherwise the form of
    training_form (AVX2 kernels)."""
    from symbol import Form, NetworkConfigError
    from symbol.training_form import unblocked_activations
    on_cpu = all(d.device_type == 'cpu' for d in devices)
    if on_cpu and fast_group_conv != 0 and not os.environ.get('DNNL_MAX_CPU_ISA') \
            and cpu_has_avx512():
        try:
            sym = build(Form.CPU_TRAINING_PADDED)
            why = unblocked_activations(sym, data_shape)
        except (NetworkConfigError, UserError) as err:
            sym, why = None, str(err)
        if not why:
            logging.info('CPU training: oneDNN AVX-512 kernels, training form '
                         '(--fast-group-conv 1), BatchNorm+ReLU fused, activations padded to '
                         'multiples of 16 channels')
            return Form.CPU_TRAINING_PADDED, sym
        logging.info('the padded training form does not apply (%s); AVX2 kernels',
                     why if isinstance(why, str) else
                     'channels not a multiple of 16 at %s' % ', '.join(why[:3]))
    form = training_form(fast_group_conv, devices)
    return form, build(form)


def training_form(fast_group_conv, devices):
    """The form a run trains (symbol.forms.Form), from --fast-group-conv (None: the CPU
    training form on the CPU, the released ops on GPUs; 0: released; 1: CPU training form)
    and the devices. On the CPU it also caps oneDNN at the training kernels
    (use_training_kernels); BatchNorm is fused with ReLU where those kernels allow it."""
    from symbol import Form
    on_cpu = all(d.device_type == 'cpu' for d in devices)
    if fast_group_conv is None:
        fast_group_conv = on_cpu
    elif fast_group_conv and not on_cpu:
        raise UserError('--fast-group-conv 1 is the CPU training form (BatchNorm fused with '
                        'ReLU is a CPU operator); use --fast-group-conv 0 with --gpus')
    if not on_cpu:
        return Form.RELEASED
    isa = use_training_kernels()
    form = Form.RELEASED
    if fast_group_conv:
        form = Form.CPU_TRAINING_FUSED if one_blocking_kernels() else Form.CPU_TRAINING
    logging.info('CPU training: oneDNN kernels DNNL_MAX_CPU_ISA=%s, %s', isa, {
        Form.RELEASED: 'released ops (--fast-group-conv 0)',
        Form.CPU_TRAINING: 'training form (--fast-group-conv 1)',
        Form.CPU_TRAINING_FUSED: 'training form (--fast-group-conv 1), BatchNorm+ReLU fused',
    }[form])
    return form
