"""Model parameters as frozen dataclasses of SI floats (unit beside each field).

Each user-facing field carries its user key, unit, allowed range and the source of its default
(:func:`contour_fem.core.params.param`); the configuration schema and ``contour-fem params`` are
generated from them. Defaults and sources: docs/model.md §6. ``ZHANG2024`` bundles them with the
citation of the experiment they were assembled for; values marked *assumed* stay parameters so
users with better data can change them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from contour_fem.core.errors import InputError
from contour_fem.core.params import param, params_of, validate
from contour_fem.core.units import (
    CM3_MOL,
    FARADAY,
    GAS_CONSTANT,
    KELVIN,
    KJ_MOL,
    MA_CM2,
    MPA,
    MPA_SQRT_M,
    MS_CM,
    OHM_CM2,
    ONE,
    PER_MPA,
    UM,
    creep_prefactor_unit,
)

SINGH2022 = "Singh et al., Cell Rep. Phys. Sci. 3 (2022) 101043"
MASIAS2019 = "Masias et al., J. Mater. Sci. 54 (2019) 2585"
LEPAGE2019 = "LePage et al., J. Electrochem. Soc. 166 (2019) A89 (recalled, unverified)"
MCGROGAN2017 = "McGrogan et al., Adv. Energy Mater. 7 (2017) 1602011 (glass, as a proxy)"
ZHANG2024_REF = "Zhang et al., Energy Environ. Sci. 17 (2024) 1448"

DISTRIBUTIONS = ("primary", "secondary")
SLIPS = ("no-slip", "free-slip")
BOTTOMS = ("plate", "traction")
CRITERION_MODES = ("calibrated", "physical")
MIN_TEMPERATURE, MAX_TEMPERATURE = 200.0, 453.0  # K; lithium melts at 453.65 K


def _secondary(section) -> bool:
    return section.get("distribution") == "secondary"


@dataclass(frozen=True)
class Electrolyte:
    """Solid electrolyte (Li6PS5Cl) transport."""

    conductivity: float = param(0.15, key="conductivity_mS_cm", unit=MS_CM, si="S/m",
                                lo=1e-7, hi=1e3, doc="ionic conductivity κ of the SE",
                                source=f"{SINGH2022}: 1.56–1.95 mS/cm at 298 K")

    def __post_init__(self):
        validate(self)


@dataclass(frozen=True)
class Kinetics:
    """Linearised Butler–Volmer kinetics of Li plating at the interface.

    Give either ``interfacial_resistance`` (R_int) or ``exchange_current_density`` (i0, from which
    R_int = R·T/((α_a + α_c)·F·i0)). ``distribution = "primary"`` ignores kinetics (φ = 0 on the
    interface).
    """

    distribution: str = param("secondary", kind=str, choices=DISTRIBUTIONS,
                              doc="primary (φ = 0 at the interface) or secondary (kinetics)")
    interfacial_resistance: float | None = param(
        1e-3, key="interfacial_resistance_ohm_cm2", unit=OHM_CM2, si="Ω·m²", lo=1e-8, hi=1e2,
        nullable=True, doc="interfacial resistance R_int of the linearised kinetics",
        source="assumed (no value in the paper; sweep 1–30 Ω·cm²)", applies=_secondary,
        applies_doc="distribution = secondary")
    exchange_current_density: float | None = param(
        None, key="exchange_current_density_mA_cm2", unit=MA_CM2, si="A/m²", lo=0.0,
        strict_lo=True, hi=1e6, nullable=True, doc="exchange current density i0 (instead of "
        "R_int)", applies=_secondary, applies_doc="distribution = secondary")
    alpha_a: float = param(0.5, unit=ONE, lo=0.0, hi=1.0, doc="anodic transfer coefficient",
                           source="assumed (symmetric)",
                           applies=lambda s: s.get("exchange_current_density_mA_cm2") is not None,
                           applies_doc="exchange_current_density_mA_cm2 given")
    alpha_c: float = param(0.5, unit=ONE, lo=0.0, hi=1.0, doc="cathodic transfer coefficient",
                           source="assumed (symmetric)",
                           applies=lambda s: s.get("exchange_current_density_mA_cm2") is not None,
                           applies_doc="exchange_current_density_mA_cm2 given")

    def __post_init__(self):
        validate(self)
        given = (self.interfacial_resistance, self.exchange_current_density)
        if not self.primary and sum(v is not None for v in given) != 1:
            raise InputError(
                "kinetics needs exactly one of interfacial_resistance or exchange_current_density"
            )
        if self.alpha_a + self.alpha_c <= 0:
            raise InputError("alpha_a + alpha_c must be > 0")

    @property
    def primary(self) -> bool:
        """True for the primary distribution (no interface kinetics)."""
        return self.distribution == "primary"

    def resistance(self, temperature: float) -> float:
        """Interfacial resistance R_int at ``temperature`` (K), Ω·m²."""
        if self.interfacial_resistance is not None:
            return self.interfacial_resistance
        i0 = self.exchange_current_density
        return GAS_CONSTANT * temperature / ((self.alpha_a + self.alpha_c) * FARADAY * i0)


_N_DEFAULT = 6.56
_A_DEFAULT = 7.73e-3 * MPA.factor**-_N_DEFAULT  # s⁻¹·Pa⁻ⁿ at n = 6.56
#: Uniaxial flow stress held fixed when n changes (Pa): the middle of Masias's 0.2–0.6 MPa.
FLOW_STRESS_REF = 0.4e6
#: Strain rate at which Li flows at FLOW_STRESS_REF by the default law (1/s), about 1.9e-5.
STRAIN_RATE_REF = _A_DEFAULT * FLOW_STRESS_REF**_N_DEFAULT


def pinned_prefactor(exponent: float) -> float:
    """A (s⁻¹·Pa⁻ⁿ) of the law with exponent n through the default law's flow point.

    ε̇ = A·σⁿ then gives the strain rate STRAIN_RATE_REF at FLOW_STRESS_REF for every n: the
    creep exponent can be varied (identification, docs/model.md §6.2) without moving the
    measured flow stress.
    """
    return STRAIN_RATE_REF / FLOW_STRESS_REF**exponent


@dataclass(frozen=True)
class Creep:
    """Power-law (Norton) creep of lithium, ε̇ = A·σⁿ (uniaxial), and the flow's boundaries.

    ``prefactor`` is the uniaxial A in s⁻¹·Pa⁻ⁿ at ``reference_temperature``; use
    :meth:`from_mpa` to give it in the customary s⁻¹·MPa⁻ⁿ.
    """

    exponent: float = param(_N_DEFAULT, unit=ONE, lo=1.0, hi=20.0, doc="creep exponent n",
                            source=f"{MASIAS2019} (tension, 0.2–0.6 MPa, room temperature)")
    prefactor: float | None = param(
        None, key="prefactor_per_s_MPa_n",
        unit=creep_prefactor_unit(_N_DEFAULT), si="s⁻¹·Pa⁻ⁿ", lo=0.0, strict_lo=True,
        nullable=True, unit_from=lambda s: creep_prefactor_unit(s["exponent"]),
        default_doc="7.73e-3 at n = 6.56; follows n (flow stress pinned)",
        doc="uniaxial creep prefactor A in ε̇ = A·σⁿ; by default A = ε̇_ref/σ_ref^n with "
            "σ_ref = 0.4 MPa, ε̇_ref = 1.9e-5 /s, so the flow stress stays put when n changes",
        source=f"least-squares refit of the creep rates tabulated by {MASIAS2019} (n fixed at "
               "6.56); the pinned point is the middle of their 0.2–0.6 MPa range")
    molar_volume: float = param(1.30e-5, key="molar_volume_cm3_mol", unit=CM3_MOL, si="m³/mol",
                                lo=1e-6, hi=1e-4, doc="molar volume of Li V_Li",
                                source="6.941 g/mol / 0.534 g/cm³")
    activation_energy: float = param(37e3, key="activation_energy_kJ_mol", unit=KJ_MOL,
                                     si="J/mol", lo=0.0, hi=5e5,
                                     doc="creep activation energy Q (used when T ≠ 298.15 K)",
                                     source=LEPAGE2019)
    reference_temperature: float = 298.15  # K at which ``prefactor`` holds
    slip: str = param("no-slip", kind=str, choices=SLIPS,
                      doc="tangential condition at the interface",
                      source="assumed (the paper says plating is normal to the surface)")
    bottom: str = param("plate", kind=str, choices=BOTTOMS,
                        doc="bottom of the Li: rigid plate at the mean plating speed, or free")

    SLIPS = SLIPS
    BOTTOMS = BOTTOMS

    def __post_init__(self):
        validate(self)
        if self.prefactor is None:
            object.__setattr__(self, "prefactor", pinned_prefactor(self.exponent))
        if not self.reference_temperature > 0:
            raise InputError(f"reference_temperature must be > 0 K, got "
                             f"{self.reference_temperature!r}")

    @classmethod
    def from_mpa(cls, prefactor_per_s_MPa_n: float, exponent: float, **kw) -> Creep:
        """Build from A in s⁻¹·MPa⁻ⁿ (the unit creep laws are usually quoted in)."""
        unit = creep_prefactor_unit(exponent)
        params_of(cls)["prefactor"][1].check("prefactor", prefactor_per_s_MPa_n, unit=unit)
        return cls(exponent=exponent, prefactor=unit.to_si(prefactor_per_s_MPa_n), **kw)

    def prefactor_at(self, temperature: float) -> float:
        """Arrhenius-corrected A at ``temperature`` (K), s⁻¹·Pa⁻ⁿ."""
        if temperature == self.reference_temperature:
            return self.prefactor
        q = self.activation_energy / GAS_CONSTANT
        inv = 1.0 / temperature - 1.0 / self.reference_temperature
        return self.prefactor * math.exp(-q * inv)


def _calibrated(section) -> bool:
    return section.get("mode") == "calibrated"


def _physical(section) -> bool:
    return section.get("mode") == "physical"


@dataclass(frozen=True)
class Criterion:
    """Dendrite-growth criterion (docs/model.md §5, a reconstruction of Ning et al. 2023).

    ``calibrated`` mode needs only ``k`` (and ``flat_critical_current`` for absolute values);
    ``physical`` mode derives i0 and ΔP* from the crack and filament dimensions.
    """

    mode: str = param("calibrated", kind=str, choices=CRITERION_MODES,
                      doc="calibrated (one constant k) or physical (crack dimensions)")
    k: float = param(0.2 / MPA.factor, key="k_per_MPa", unit=PER_MPA, si="1/Pa", lo=0.0,
                     hi=1e-4, doc="criterion constant k = (i0/i_ref)^(1/n)/ΔP*",
                     source="assumed: i0 = 1 mA/cm², ΔP* ≈ 4.6 MPa (100 µm crack)",
                     applies=_calibrated, applies_doc="mode = calibrated")
    flat_critical_current: float = param(
        10.0, key="flat_critical_current_mA_cm2", unit=MA_CM2, si="A/m²", lo=0.0,
        strict_lo=True, hi=1e4, doc="critical current i0 of a flat interface",
        source="assumed order of magnitude (only ratios to flat are claimed)",
        applies=_calibrated, applies_doc="mode = calibrated")
    fracture_toughness: float = param(
        0.23e6, key="fracture_toughness_MPa_m05", unit=MPA_SQRT_M, si="Pa·√m", lo=0.0,
        strict_lo=True, hi=1e8, doc="SE fracture toughness K_Ic", source=MCGROGAN2017,
        applies=_physical, applies_doc="mode = physical")
    crack_depth: float = param(100e-6, key="crack_depth_um", unit=UM, si="m", lo=0.0,
                               strict_lo=True, hi=1e-2, doc="surface crack depth c",
                               source="assumed", applies=_physical,
                               applies_doc="mode = physical")
    filament_length: float = param(100e-6, key="filament_length_um", unit=UM, si="m", lo=0.0,
                                   strict_lo=True, hi=1e-2, doc="Li filament length l",
                                   source="assumed", applies=_physical,
                                   applies_doc="mode = physical")
    crack_opening: float = param(21e-6, key="crack_opening_um", unit=UM, si="m", lo=0.0,
                                 strict_lo=True, hi=1e-3, doc="crack opening w",
                                 source="assumed: gives i0 ≈ 1 mA/cm² with c = l = 100 µm",
                                 applies=_physical, applies_doc="mode = physical")
    geometry_factor: float = param(1.12, unit=ONE, lo=0.0, strict_lo=True, hi=10.0,
                                   doc="crack geometry factor Y", source="surface crack",
                                   applies=_physical, applies_doc="mode = physical")
    growth_exponent: float | None = param(
        None, unit=ONE, lo=0.1, hi=20.0, nullable=True, default_doc="creep exponent n",
        doc="exponent m of the growth law i_g = i0·(1 − Δp/ΔP*)^m",
        source="Ning et al. 2023 tie m to the creep exponent (assumed, untested)")

    MODES = CRITERION_MODES

    def __post_init__(self):
        validate(self)


@dataclass(frozen=True)
class Operating:
    """Cell operating conditions."""

    temperature: float = param(298.15, key="temperature_K", unit=KELVIN, si="K",
                               lo=MIN_TEMPERATURE, hi=MAX_TEMPERATURE,
                               doc="temperature T (below the melting point of Li)",
                               source="room temperature (assumed)")
    stack_pressure: float = param(7e6, key="stack_pressure_MPa", unit=MPA, si="Pa", lo=0.0,
                                  hi=1e9, doc="stack pressure P_stack",
                                  source=f"{ZHANG2024_REF} (the measurements)")
    reference_current: float = param(10.0, key="reference_current_mA_cm2", unit=MA_CM2,
                                     si="A/m²", lo=0.0, strict_lo=True, hi=1e4,
                                     doc="current i_ref at which fields are reported",
                                     source=f"{ZHANG2024_REF} (the reporting current)")

    def __post_init__(self):
        validate(self)


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
        f"{ZHANG2024_REF}, doi:10.1039/d3ee03322h; parameters from docs/model.md §6 "
        f"({SINGH2022}; {MASIAS2019}; {MCGROGAN2017}; R_int, i0 and k assumed)"
    ),
)
