"""Every distillation method id, readable without importing TensorFlow.

The command line lists them in ``--help``; ``kdtfrs.tasks.registry`` checks when it is
imported that its task classes and presets carry exactly these ids, in this order.

``SCHEMES`` are training schemes beyond one frozen teacher, outside that registry: ``bd``
trains the teacher too (``kdtfrs.bidirectional``), ``hetcomp`` learns from several teachers'
training trajectories (``kdtfrs.hetcomp``).
"""

RANKING = ("kd", "blackd", "mse", "bce", "rd", "cd", "rrd", "ir_rrd", "sld", "dcd", "unkd",
           "rce_kd")
FEATURE = ("fitnet", "de", "pckd_pair", "pckd_list", "pckd_hybrid", "ftd", "htd", "vkd")
PRESETS = ("de_rrd",)
METHOD_IDS = RANKING + FEATURE + PRESETS
SCHEMES = ("bd", "hetcomp")
