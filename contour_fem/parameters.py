"""Model parameters as frozen dataclasses of SI floats (unit beside each field).

Defaults and sources follow MODEL.md §6. ``ZHANG2024`` bundles them with the citation of the
experiment they were assembled for; fields marked *assumed* in MODEL.md stay parameters so users
with better data can change them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from contour_fem.constants import FARADAY, GAS_CONSTANT, MPA
from contour_fem.errors import InputError, check_positive, check_range


@dataclass(frozen=True)
class Electrolyte:
    """Solid electrolyte (Li6PS5Cl) transport."""

    conductivity: float = 0.15  # S/m; Singh et al., Cell Rep. Phys. Sci. 3 (2022) 101043

    def __post_init__(self):
        check_positive("conductivity", self.conductivity)


@dataclass(frozen=True)
class Kinetics:
    """Linearised Butler–Volmer kinetics of Li plating at the interface.

    Give either ``interfacial_resistance`` (R_int) or ``exchange_current_density`` (i0, from which
    R_int = R·T/((α_a + α_c)·F·i0)). ``primary=True`` ignores kinetics (φ = 0 on the interface).
    """

    interfacial_resistance: float | None = 1e-3  # Ω·m² (10 Ω·cm², assumed in MODEL.md)
    exchange_current_density: float | None = None  # A/m²
    alpha_a: float = 0.5  # anodic transfer coefficient, -
    alpha_c: float = 0.5  # cathodic transfer coefficient, -
    primary: bool = False

    def __post_init__(self):
        given = (self.interfacial_resistance, self.exchange_current_density)
        if not self.primary and sum(v is not None for v in given) != 1:
            raise InputError(
                "kinetics needs exactly one of interfacial_resistance or exchange_current_density"
            )
        if self.interfacial_resistance is not None:
            check_positive("interfacial_resistance", self.interfacial_resistance)
        if self.exchange_current_density is not None:
            check_positive("exchange_current_density", self.exchange_current_density)
        check_range("alpha_a", self.alpha_a, 0.0, 1.0)
        check_range("alpha_c", self.alpha_c, 0.0, 1.0)
        if self.alpha_a + self.alpha_c <= 0:
            raise InputError("alpha_a + alpha_c must be > 0")

    def resistance(self, temperature: float) -> float:
        """Interfacial resistance R_int at ``temperature`` (K), Ω·m²."""
        if self.interfacial_resistance is not None:
            return self.interfacial_resistance
        i0 = self.exchange_current_density
        return GAS_CONSTANT * temperature / ((self.alpha_a + self.alpha_c) * FARADAY * i0)


@dataclass(frozen=True)
class Creep:
    """Power-law (Norton) creep of lithium, ε̇ = A·σⁿ (uniaxial), and the flow's boundaries.

    ``prefactor`` is the uniaxial A in s⁻¹·Pa⁻ⁿ at ``reference_temperature``; use
    :meth:`from_mpa` to give it in the customary s⁻¹·MPa⁻ⁿ.
    """

    exponent: float = 6.56  # n, -; Masias et al., J. Mater. Sci. 54 (2019) 2585
    prefactor: float = 7.73e-3 * MPA**-6.56  # A, s⁻¹·Pa⁻ⁿ; least-squares refit of Masias 2019
    molar_volume: float = 1.30e-5  # V_Li, m³/mol (6.941 g/mol / 0.534 g/cm³)
    activation_energy: float = 37e3  # Q, J/mol; LePage et al. 2019 (recalled, unverified)
    reference_temperature: float = 298.15  # K at which ``prefactor`` holds
    slip: str = "no-slip"  # interface tangential condition: "no-slip" or "free-slip" (assumed)
    bottom: str = "plate"  # "plate" (moves at the mean plating speed) or "traction"

    SLIPS = ("no-slip", "free-slip")
    BOTTOMS = ("plate", "traction")

    def __post_init__(self):
        check_range("exponent", self.exponent, 1.0, 20.0)
        check_positive("prefactor", self.prefactor)
        check_positive("molar_volume", self.molar_volume)
        check_positive("activation_energy", self.activation_energy, allow_zero=True)
        check_positive("reference_temperature", self.reference_temperature)
        if self.slip not in self.SLIPS:
            raise InputError(f"slip must be one of {', '.join(self.SLIPS)}, got {self.slip!r}")
        if self.bottom not in self.BOTTOMS:
            raise InputError(
                f"bottom must be one of {', '.join(self.BOTTOMS)}, got {self.bottom!r}"
            )

    @classmethod
    def from_mpa(cls, prefactor_per_s_MPa_n: float, exponent: float, **kw) -> Creep:
        """Build from A in s⁻¹·MPa⁻ⁿ (the unit creep laws are usually quoted in)."""
        check_positive("prefactor", prefactor_per_s_MPa_n)
        check_range("exponent", exponent, 1.0, 20.0)
        return cls(exponent=exponent, prefactor=prefactor_per_s_MPa_n * MPA**-exponent, **kw)

    def prefactor_at(self, temperature: float) -> float:
        """Arrhenius-corrected A at ``temperature`` (K), s⁻¹·Pa⁻ⁿ."""
        if temperature == self.reference_temperature:
            return self.prefactor
        q = self.activation_energy / GAS_CONSTANT
        inv = 1.0 / temperature - 1.0 / self.reference_temperature
        return self.prefactor * math.exp(-q * inv)


@dataclass(frozen=True)
class Criterion:
    """Dendrite-growth criterion (MODEL.md §5, a reconstruction of Ning et al. 2023).

    ``calibrated`` mode needs only ``k`` (and ``flat_critical_current`` for absolute values);
    ``physical`` mode derives i0 and ΔP* from the crack and filament dimensions.
    """

    mode: str = "calibrated"
    k: float = 0.2 / MPA  # 1/Pa (0.2 MPa⁻¹, assumed until the benchmark calibrates it)
    flat_critical_current: float = 10.0  # i0, A/m² (1 mA/cm², assumed)
    fracture_toughness: float = 0.23e6  # K_Ic, Pa·√m; McGrogan et al. 2017 (glass proxy)
    crack_depth: float = 100e-6  # c, m (assumed)
    filament_length: float = 100e-6  # l, m (assumed)
    crack_opening: float = 21e-6  # w, m (assumed: gives i0 ≈ 1 mA/cm² with c = l = 100 µm)
    geometry_factor: float = 1.12  # Y, - (surface crack)

    MODES = ("calibrated", "physical")

    def __post_init__(self):
        if self.mode not in self.MODES:
            raise InputError(f"mode must be one of {', '.join(self.MODES)}, got {self.mode!r}")
        check_positive("k", self.k, allow_zero=True)
        for name in ("flat_critical_current", "fracture_toughness", "crack_depth",
                     "filament_length", "crack_opening", "geometry_factor"):
            check_positive(name, getattr(self, name))


@dataclass(frozen=True)
class Operating:
    """Cell operating conditions."""

    temperature: float = 298.15  # T, K (room temperature, assumed)
    stack_pressure: float = 7e6  # P_stack, Pa (the paper's measurements)
    reference_current: float = 10.0  # i_ref, A/m² (1 mA/cm², the paper's reporting current)

    def __post_init__(self):
        check_positive("temperature", self.temperature)
        check_positive("stack_pressure", self.stack_pressure, allow_zero=True)
        check_positive("reference_current", self.reference_current)


@dataclass(frozen=True)
class ParameterSet:
    """A complete, citable set of material and operating parameters."""

    name: str
    citation: str
    electrolyte: Electrolyte = field(default_factory=Electrolyte)
    kinetics: Kinetics = field(default_factory=Kinetics)
    creep: Creep = field(default_factory=Creep)
    criterion: Criterion = field(default_factory=Criterion)
    operating: Operating = field(default_factory=Operating)

    def as_dict(self) -> dict:
        """Nested plain dict (SI units), for provenance records."""
        return asdict(self)


ZHANG2024 = ParameterSet(
    name="Zhang2024",
    citation=(
        "S. Zhang et al., Energy Environ. Sci. 17 (2024) 1448, doi:10.1039/d3ee03322h; "
        "parameters from MODEL.md §6 (Singh 2022, Masias 2019, McGrogan 2017; R_int, i0, k assumed)"
    ),
)
