"""The one argument validator of the library: numbers checked with a message naming the argument."""

import math
import numbers


def check_number(name, value, *, minimum=None, above=None, integer=False):
    """``value`` as an int or float, or a ValueError that names ``name`` and the value received.

    Args:
      name: the argument's name, as the caller knows it (a Python argument or a CLI flag).
      value: what was received; booleans, NaN and infinities are refused.
      minimum: the smallest allowed value (inclusive), if any.
      above: a value that ``value`` must be strictly greater than, if any.
      integer: require an integer (returned as ``int``; otherwise a ``float`` is returned).
    """
    kind = numbers.Integral if integer else numbers.Real
    valid = isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value)
    valid = valid and (minimum is None or value >= minimum) and (above is None or value > above)
    if not valid:
        bounds = [f">= {minimum:g}" if minimum is not None else "",
                  f"> {above:g}" if above is not None else ""]
        bound = " and ".join(b for b in bounds if b)
        what = "an integer" if integer else "a finite number"
        raise ValueError(f"`{name}` must be {what}{' ' + bound if bound else ''}; "
                         f"received {name}={value!r}.")
    return int(value) if integer else float(value)
