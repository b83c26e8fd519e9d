"""Physical constants and unit conversions: the only place either is defined.

Constants come from :mod:`scipy.constants` (CODATA). Conversion factors turn the unit-suffixed
values of the user boundary (µm, mA/cm², MPa, Ω·cm², mS/cm) into SI once, on the way in.
"""

from scipy import constants as _c

FARADAY: float = _c.physical_constants["Faraday constant"][0]  # C/mol
GAS_CONSTANT: float = _c.R  # J/(mol·K)

UM: float = 1e-6  # m per µm
MM: float = 1e-3  # m per mm
MPA: float = 1e6  # Pa per MPa
MA_PER_CM2: float = 10.0  # (A/m²) per (mA/cm²)
OHM_CM2: float = 1e-4  # (Ω·m²) per (Ω·cm²)
MS_PER_CM: float = 0.1  # (S/m) per (mS/cm)
CM3_PER_MOL: float = 1e-6  # (m³/mol) per (cm³/mol)
KJ_PER_MOL: float = 1e3  # (J/mol) per (kJ/mol)
