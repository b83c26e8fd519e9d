"""Physical constants and units: the only place either is defined.

Constants come from :mod:`scipy.constants` (CODATA). Inside the package every value is SI; the
user boundary (case files, command line, result files) uses the units below, named by the suffix
of each key (``height_um``, ``current_mA_cm2``). A :class:`Unit` converts once on the way in
(:meth:`Unit.to_si`) and once on the way out (:meth:`Unit.from_si`); nothing else in the package
multiplies by a bare conversion factor.
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy import constants as _c

FARADAY: float = _c.physical_constants["Faraday constant"][0]  # C/mol
GAS_CONSTANT: float = _c.R  # J/(mol·K)


@dataclass(frozen=True)
class Unit:
    """A user-facing unit: its symbol, the suffix of key names in it, and SI units per unit.

    Attributes:
        symbol: As printed, e.g. ``µm``.
        suffix: As in key and column names, e.g. ``um`` in ``height_um``.
        factor: SI value of one unit, e.g. 1e-6 (m per µm).
        inverse: Units per SI unit, 1/factor written exactly (1e6, not 999999.9999999999), so
            that 25e-6 m comes out as 25 µm.

    """

    symbol: str
    suffix: str
    factor: float
    inverse: float = 0.0

    def __post_init__(self):
        if self.inverse == 0.0:
            object.__setattr__(self, "inverse", 1.0 / self.factor)

    def to_si(self, value: float | None) -> float | None:
        """User value → SI (None stays None)."""
        return None if value is None else value * self.factor

    def from_si(self, value: float | None, digits: int | None = None) -> float | None:
        """SI value → user value, optionally rounded to ``digits`` decimals (None stays None).

        Rounding drops SI round-off such as 24.999999999999996 µm from result files.
        """
        if value is None:
            return None
        out = value * self.inverse
        return out if digits is None else round(out, digits)


ONE = Unit("", "", 1.0)  # dimensionless
UM = Unit("µm", "um", 1e-6, 1e6)
UM2 = Unit("µm²", "um2", 1e-12, 1e12)
MPA = Unit("MPa", "MPa", 1e6, 1e-6)
PER_MPA = Unit("1/MPa", "per_MPa", 1e-6, 1e6)
MPA_SQRT_M = Unit("MPa·√m", "MPa_m05", 1e6, 1e-6)
MA_CM2 = Unit("mA/cm²", "mA_cm2", 10.0, 0.1)
OHM_CM2 = Unit("Ω·cm²", "ohm_cm2", 1e-4, 1e4)
MS_CM = Unit("mS/cm", "mS_cm", 0.1, 10.0)
CM3_MOL = Unit("cm³/mol", "cm3_mol", 1e-6, 1e6)
KJ_MOL = Unit("kJ/mol", "kJ_mol", 1e3, 1e-3)
KELVIN = Unit("K", "K", 1.0)
SECOND = Unit("s", "s", 1.0)

#: Decimals kept for lengths in µm in result files (far below any mesh size).
UM_DIGITS = 9


def creep_prefactor_unit(exponent: float) -> Unit:
    """s⁻¹·MPa⁻ⁿ, the unit creep laws are quoted in; its SI factor depends on the exponent n."""
    return Unit("s⁻¹·MPa⁻ⁿ", "per_s_MPa_n", MPA.factor ** -exponent)
