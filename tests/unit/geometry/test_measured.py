"""Measured interfaces: height maps, random surfaces and XCT volumes (numpy only, fast)."""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import sys
import time

import numpy as np
import pytest

from contour_fem.core.errors import InputError
from contour_fem.geometry.heightmap import HeightMap
from contour_fem.geometry.random_surface import RandomSurface, default_points, random_surface
from contour_fem.geometry.topography import EggBox
from contour_fem.geometry.xct import height_map_from_volume, read_tiff_stack

H, S, N = 25e-6, 150e-6, 64
PIXEL = S / N
EGG = EggBox(height=H, period=S)
KH = 2 * math.pi / N  # wavenumber × pixel of the egg-box's fundamental
# Cubic-spline interpolation error bounds for a cosine of amplitude A (Hall & Meyer):
# value ≤ 5/384 (kh)⁴ A, slope ≤ 1/24 (kh)³ kA. For 64 pixels per period: 1.2e-6 and 3.9e-5.
VALUE_BOUND = 5 / 384 * KH**4
SLOPE_BOUND = KH**3 / 24
# Default smoothing ℓ = pixel/2 scales cos·cos by exp(−2·(kℓ)²/2) = 0.99759 (0.24 %).
EGG_DAMPING = math.exp(-((KH / 2) ** 2))


def egg_samples(n=N, period=S, extent=None):
    """Egg-box heights z[j, i] at x = i·pixel, y = j·pixel."""
    pixel = period / n
    count = n if extent is None else extent
    x = np.arange(count) * pixel
    xx, yy = np.meshgrid(x, x)  # xx varies along columns (x), yy along rows (y)
    return EggBox(height=H, period=period).h(xx, yy), pixel


def random_points(count=20_000, span=S, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(-span, span, count), rng.uniform(-span, span, count)


def assert_one_line(exc, *words):
    msg = str(exc.value)
    assert "\n" not in msg, msg
    for w in words:
        assert w in msg, (w, msg)


# ----------------------------------------------------------------------------- egg-box reference

@pytest.fixture(scope="module")
def egg_maps():
    z, pixel = egg_samples()
    return HeightMap.from_array(z, pixel), HeightMap.from_array(z, pixel, smoothing=0.0)


def test_eggbox_height_area_and_period(egg_maps):
    smooth, raw = egg_maps
    assert smooth.period == pytest.approx(S, rel=1e-15)
    assert not smooth.mirror_symmetric
    # The samples hit the crests and troughs, so the height is the (damped) amplitude.
    assert smooth.height == pytest.approx(H * EGG_DAMPING, rel=1e-6)
    assert raw.height == pytest.approx(H, rel=1e-12)
    ref = EGG.area_ratio()
    for hm in egg_maps:
        assert abs(hm.area_ratio() - ref) < 1e-3
        assert hm.area_ratio() == pytest.approx(hm.area_ratio_numeric(), abs=1e-9)
    assert abs(raw.area_ratio() - ref) < 1e-6  # measured 3e-8 without smoothing


def test_eggbox_values_and_gradient(egg_maps):
    smooth, raw = egg_maps
    x, y = random_points()
    h0 = EGG.h(x, y)
    gx0, gy0 = EGG.gradient(x, y)
    amp, slope = H / 2, H / 2 * 2 * math.pi / S
    # Without smoothing: the cubic spline's interpolation error, measured 4.8e-7 A and
    # 7.6e-6 kA, inside the bounds 1.2e-6 A and 3.9e-5 kA.
    gx, gy = raw.gradient(x, y)
    assert np.abs(raw.h(x, y) - h0).max() < VALUE_BOUND * amp
    assert max(np.abs(gx - gx0).max(), np.abs(gy - gy0).max()) < SLOPE_BOUND * slope
    # With the default smoothing the surface is the egg-box damped by 0.24 %: compare with
    # the damped egg-box to the same spline tolerance, and with the true one to 0.25 %.
    gx, gy = smooth.gradient(x, y)
    assert np.abs(smooth.h(x, y) - EGG_DAMPING * h0).max() < VALUE_BOUND * amp
    assert np.abs(gx - EGG_DAMPING * gx0).max() < SLOPE_BOUND * slope
    assert np.abs(smooth.h(x, y) - h0).max() < 2.5e-3 * amp
    assert np.abs(gy - gy0).max() < 2.5e-3 * slope


def test_bounds_contain_surface_and_invert(egg_maps):
    raw = egg_maps[1]
    lo, hi = raw.bounds()
    x, y = random_points(100_000)
    h = raw.h(x, y)
    assert lo <= h.min() and h.max() <= hi
    assert hi - lo < raw.height * (1 + 1e-3)  # the safety margin is tiny
    inv = HeightMap.from_array(raw.heights, PIXEL, smoothing=0.0, invert=True)
    assert inv.bounds() == (-hi, -lo)
    np.testing.assert_array_equal(inv.h(x, y), -h)
    np.testing.assert_array_equal(inv.gradient(x, y)[0], -raw.gradient(x, y)[0])


def test_evaluation_is_fast(egg_maps):
    x, y = random_points(100_000)
    t0 = time.perf_counter()
    egg_maps[0].h(x, y)
    egg_maps[0].gradient(x, y)
    assert time.perf_counter() - t0 < 1.0  # measured ~0.1 s for both calls


def test_interpolates_samples_and_keeps_shape():
    z, pixel = egg_samples()
    z = z + 3e-6  # an offset, removed by centring
    hm = HeightMap.from_array(z, pixel, smoothing=0.0, center=False)
    assert z.flags.writeable and hm.heights is not z  # the caller's array is copied
    i = np.arange(N)
    xx, yy = np.meshgrid(i * pixel, i * pixel)
    np.testing.assert_allclose(hm.h(xx, yy), z, rtol=0, atol=1e-12 * H)
    centred = HeightMap.from_array(z, pixel, smoothing=0.0)
    np.testing.assert_allclose(centred.h(xx, yy), z - z.mean(), rtol=0, atol=1e-12 * H)
    assert centred.describe()["offset_um"] == pytest.approx(3.0, abs=1e-9)
    assert hm.h(np.zeros((2, 3)), np.zeros((2, 3))).shape == (2, 3)


# ----------------------------------------------------------------------------- periodicity, patch

def test_exact_periodicity(egg_maps):
    rng = np.random.default_rng(7)
    z = rng.normal(size=(32, 32)) * 1e-6  # rough on purpose: no symmetry to hide behind
    hm = HeightMap.from_array(z, 2e-6)
    x, y = random_points(5000, span=hm.period, seed=3)
    h, (gx, gy) = hm.h(x, y), hm.gradient(x, y)
    scale = np.abs(h).max()
    for mx, my in ((1, 0), (0, -1), (3, -7)):
        xs, ys = x + mx * hm.period, y + my * hm.period
        np.testing.assert_allclose(hm.h(xs, ys), h, rtol=0, atol=1e-12 * scale)
        gxs, gys = hm.gradient(xs, ys)
        np.testing.assert_allclose(gxs, gx, rtol=0, atol=1e-12 * np.abs(gx).max())
        np.testing.assert_allclose(gys, gy, rtol=0, atol=1e-12 * np.abs(gy).max())


def test_patch_mirror_planes_are_exact():
    rng = np.random.default_rng(11)
    z = rng.normal(size=(20, 20)) * 1e-6  # no symmetry of its own
    hm = HeightMap.from_array(z, 1e-6, periodic=False, smoothing=0.0, center=False)
    half = 0.5 * hm.period
    assert hm.mirror_symmetric
    assert hm.period == pytest.approx(2 * 19 * 1e-6, rel=1e-15)
    t = rng.uniform(-half, 3 * half, 1000)
    for plane in (0.0, half, -half, 2 * half):
        assert np.all(hm.gradient(np.full_like(t, plane), t)[0] == 0.0)
        assert np.all(hm.gradient(t, np.full_like(t, plane))[1] == 0.0)
    # Even about both planes, and passes through the patch's samples.
    u = rng.uniform(0, half, 1000)
    np.testing.assert_allclose(hm.h(-u, t), hm.h(u, t), rtol=0, atol=1e-13 * 1e-6)
    np.testing.assert_allclose(hm.h(t, 2 * half - u), hm.h(t, u), rtol=0, atol=1e-12 * 1e-6)
    i = np.arange(20)
    xx, yy = np.meshgrid(i * 1e-6, i * 1e-6)
    np.testing.assert_allclose(hm.h(xx, yy), z, rtol=0, atol=1e-12 * 1e-6)


def test_patch_of_eggbox_quarter_is_the_eggbox():
    z, pixel = egg_samples(extent=N // 2 + 1)  # [0, S/2]², both ends included
    hm = HeightMap.from_array(z, pixel, periodic=False, smoothing=0.0)
    assert hm.period == pytest.approx(S, rel=1e-15)
    x, y = random_points(5000)
    np.testing.assert_allclose(hm.h(x, y), EGG.h(x, y), rtol=0, atol=VALUE_BOUND * H / 2)
    assert abs(hm.area_ratio() - EGG.area_ratio()) < 1e-6


# ----------------------------------------------------------------------------- smoothing

@pytest.mark.parametrize("per_period", [64, 4, 2])
def test_smoothing_transfer(per_period):
    n, amp = 64, 1e-6
    i = np.arange(n)
    wave = amp * np.cos(2 * np.pi * i / per_period)
    z = np.tile(wave, (n, 1))  # varies along x only
    pixel = 1e-6
    k = 2 * np.pi / (per_period * pixel)
    expected = math.exp(-0.5 * (k * pixel / 2) ** 2)  # default ℓ = pixel/2
    xs = i * pixel
    smooth = HeightMap.from_array(z, pixel)
    np.testing.assert_allclose(smooth.h(xs, 0 * xs), expected * wave, rtol=0, atol=1e-12 * amp)
    raw = HeightMap.from_array(z, pixel, smoothing=0.0)
    np.testing.assert_allclose(raw.h(xs, 0 * xs), wave, rtol=0, atol=1e-12 * amp)
    if per_period == 64:
        assert 1 - expected < 1.25e-3  # the documented 0.12 % per axis
    if per_period == 2:
        assert expected == pytest.approx(math.exp(-math.pi**2 / 8))  # Nyquist: 0.29
    assert smooth.smallest_wavelength() == pytest.approx(2 * pixel)
    wide = HeightMap.from_array(z, pixel, smoothing=3 * pixel)
    assert wide.smallest_wavelength() == pytest.approx(
        2 * math.pi * 3 * pixel / math.sqrt(2 * math.log(10)))


# ----------------------------------------------------------------------------- random surfaces

def test_random_surface_rms_mean_and_seed():
    period, rms, lam = 200e-6, 1.5e-6, 200e-6 / 16
    a = random_surface(period, rms, lam, seed=5)
    assert isinstance(a, RandomSurface) and a.kind == "random"
    z = a.heights
    assert z.shape == (256, 256) == (default_points(period, lam),) * 2
    assert math.sqrt(np.mean(z**2)) == pytest.approx(rms, rel=1e-12)
    assert abs(z.mean()) < 1e-12 * rms
    assert a.period == pytest.approx(period, rel=1e-15)
    b = random_surface(period, rms, lam, seed=5)
    np.testing.assert_array_equal(a.heights, b.heights)
    assert a == b and hash(a) == hash(b)
    c = random_surface(period, rms, lam, seed=6)
    assert not np.allclose(a.heights, c.heights) and a != c
    d = a.describe()
    assert d["topography"] == "random" and d["seed"] == 5 and d["spectrum"] == "gaussian"
    assert d["rms_height_um"] == pytest.approx(1.5) and d["points"] == 256
    json.dumps(d)
    x, y = random_points(2000, span=period)
    np.testing.assert_allclose(a.h(x + period, y - 2 * period), a.h(x, y), rtol=0,
                               atol=1e-12 * a.height)


@pytest.mark.parametrize("spectrum", ["gaussian", "exponential"])
def test_random_surface_correlation_length(spectrum):
    period, lam = 200e-6, 200e-6 / 32
    s = random_surface(period, 1e-6, lam, spectrum=spectrum, seed=0)
    z = s.heights
    acf = np.fft.irfft2(np.abs(np.fft.rfft2(z)) ** 2, s=z.shape) / z.size / np.mean(z**2)
    lag = round(lam / s.pixel)
    c1 = 0.5 * (acf[0, lag] + acf[lag, 0])
    # Both autocorrelations are 1/e at r = λ; seed 0 gives 0.34 (gaussian), 0.33 (exponential).
    # Solving exp(−(λ/λ_est)^p) = c1 gives λ_est within ~5 %; allow 15 % (one realisation of
    # ~1000 correlation areas).
    power = 2 if spectrum == "gaussian" else 1
    lam_est = lam / (-math.log(c1)) ** (1 / power)
    assert lam_est == pytest.approx(lam, rel=0.15)
    c2 = 0.5 * (acf[0, 2 * lag] + acf[2 * lag, 0])
    assert c2 == pytest.approx(math.exp(-(2**power)), abs=0.08)


def test_default_points_rule():
    assert default_points(1.0, 0.5) == 32
    assert default_points(1.0, 1 / 4) == 64
    assert default_points(1.0, 1 / 20) == 512  # 320 → next power of two
    assert default_points(1.0, 1 / 64) == 512
    with pytest.raises(InputError) as e:
        default_points(1.0, 1 / 65)
    assert_one_line(e, "correlation_length", "points")


@pytest.mark.parametrize(("kw", "word"), [
    ({"period": 0.0}, "period"), ({"period": math.inf}, "period"),
    ({"rms_height": -1e-6}, "rms_height"), ({"rms_height": math.nan}, "rms_height"),
    ({"correlation_length": 200e-6}, "correlation_length"),
    ({"spectrum": "fractal"}, "spectrum"), ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"),
    ({"seed": True}, "seed"), ({"points": 4}, "points"), ({"points": 64.0}, "points"),
])
def test_random_surface_bad_inputs(kw, word):
    args = {"period": 200e-6, "rms_height": 1e-6, "correlation_length": 20e-6, **kw}
    with pytest.raises(InputError) as e:
        random_surface(args.pop("period"), args.pop("rms_height"),
                       args.pop("correlation_length"), **args)
    assert_one_line(e, word)


# ----------------------------------------------------------------------------- XCT volumes

def voxelise(surface, n=48, nz=40, voxel=1e-6):
    """labels[y, x, z]: 1 (Li) where the voxel centre lies below ``surface``, else 2 (SE)."""
    c = (np.arange(n) + 0.5) * voxel
    xx, yy = np.meshgrid(c, c)
    h = surface(xx, yy)
    zc = (np.arange(nz) + 0.5) * voxel
    labels = np.where(zc[None, None, :] < h[..., None], 1, 2).astype(np.uint8)
    return labels, h


def smooth_surface(x, y):
    k = 2 * np.pi / 48e-6
    return 20e-6 + 6e-6 * np.cos(k * x) * np.sin(k * y) + 3.3e-6 * np.cos(2 * k * y)


def test_xct_recovers_smooth_surface():
    labels, h = voxelise(smooth_surface)
    heights, report = height_map_from_volume(labels, 1e-6, lithium=1, electrolyte=2)
    assert heights.shape == (48, 48) and report.defect_count == 0 and report.filled == 0
    assert np.abs(heights - h).max() <= 0.5e-6 * (1 + 1e-9)  # half a voxel by construction
    same, _ = height_map_from_volume(np.moveaxis(labels, 2, 0), 1e-6, lithium=1, electrolyte=2,
                                     axis=0)
    np.testing.assert_array_equal(same, heights)
    hm = HeightMap.from_array(heights, 1e-6)
    assert hm.period == pytest.approx(48e-6)
    assert abs(hm.height - (h.max() - h.min())) < 2e-6
    json.dumps(report.describe())


@pytest.mark.parametrize("defect", ["overhang", "hole", "island", "no_li"])
def test_xct_defects(defect):
    labels, _ = voxelise(smooth_surface)
    col = labels[5, 7]
    n_li = int((col == 1).sum())
    if defect == "overhang":  # an SE pocket under a Li ledge
        col[n_li - 6:n_li - 3] = 2
    elif defect == "hole":
        col[2] = 2
    elif defect == "island":
        col[n_li + 4] = 1
    else:
        col[:] = 2
    labels[9, 3, :3] = 2  # a second defect: SE below the Li (several transitions)
    with pytest.raises(InputError) as e:
        height_map_from_volume(labels, 1e-6, lithium=1, electrolyte=2)
    assert_one_line(e, "2 of 2304 columns", "row 5, column 7", "defects='fill'")
    heights, report = height_map_from_volume(labels, 1e-6, lithium=1, electrolyte=2,
                                             defects="fill")
    assert report.filled == report.defect_count == 2
    assert report.first_defect == (5, 7)
    assert heights[5, 7] == pytest.approx(1e-6 * (labels[5, 7] == 1).sum())
    kind = "no lithium" if defect == "no_li" else "several transitions"
    assert report.defects[kind] >= 1


def test_xct_bad_inputs():
    labels, _ = voxelise(smooth_surface, n=8, nz=30)
    labels[0, 0, 0] = 7
    with pytest.raises(InputError) as e:
        height_map_from_volume(labels, 1e-6, lithium=1, electrolyte=2)
    assert_one_line(e, "labels", "7")
    good, _ = voxelise(smooth_surface, n=8, nz=30)
    for kw, word in (({"voxel": 0.0}, "voxel"), ({"lithium": 2}, "differ"),
                     ({"defects": "ignore"}, "defects"), ({"axis": 3}, "axis")):
        args = {"voxel": 1e-6, "lithium": 1, "electrolyte": 2, **kw}
        with pytest.raises(InputError) as e:
            height_map_from_volume(good, args.pop("voxel"), **args)
        assert_one_line(e, word)
    with pytest.raises(InputError) as e:
        height_map_from_volume(good.astype(float), 1e-6, lithium=1, electrolyte=2)
    assert_one_line(e, "integers")


def test_read_tiff_stack_without_tifffile(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tifffile", None)  # import tifffile raises ImportError
    with pytest.raises(InputError) as e:
        read_tiff_stack(tmp_path / "volume.tif")
    assert_one_line(e, "pip install contour_fem[xct]")


# ----------------------------------------------------------------------------- files, provenance

def test_from_file_formats(tmp_path):
    z, pixel = egg_samples(n=8, period=40e-6)
    um = z * 1e6
    csv = tmp_path / "map.csv"
    csv.write_text("\ufeff" + "\n".join(", ".join(f"{v:.17g}" for v in row) for row in um)
                   + "\n\n", encoding="utf-8")
    txt = tmp_path / "map.txt"
    txt.write_text("# heights in µm\n" + "\n".join(" ".join(f"{v:.17g}" for v in row)
                                                  for row in um), encoding="utf-8")
    npy = tmp_path / "map.npy"
    np.save(npy, um)
    ref = HeightMap.from_array(z, pixel)
    for path in (csv, txt, npy):
        hm = HeightMap.from_file(path, pixel)
        np.testing.assert_allclose(hm.heights, z, rtol=1e-15, atol=0)
        assert hm.height == pytest.approx(ref.height, rel=1e-12)
        d = hm.describe()
        assert d["file"] == path.name and d["name"] == "map"
    nm = HeightMap.from_file(npy, pixel, unit=1e-9)  # the same numbers read as nm
    assert nm.height == pytest.approx(ref.height * 1e-3, rel=1e-12)


def test_describe_and_equality(egg_maps):
    hm = egg_maps[0]
    d = hm.describe()
    json.dumps(d)
    assert d["topography"] == "heightmap" and d["shape"] == [N, N] and d["periodic"] is True
    assert d["pixel_um"] == pytest.approx(PIXEL * 1e6) and d["separation_um"] == pytest.approx(150)
    assert d["smoothing_um"] == pytest.approx(PIXEL / 2 * 1e6)
    assert d["height_um"] == pytest.approx(25 * EGG_DAMPING, rel=1e-6)
    assert d["sha256"] == hashlib.sha256(hm.heights.astype("<f8").tobytes()).hexdigest()
    same = HeightMap.from_array(hm.heights.copy(), PIXEL)
    assert same == hm and hash(same) == hash(hm) and same != egg_maps[1]
    back = pickle.loads(pickle.dumps(hm))
    assert back == hm
    x, y = random_points(100)
    np.testing.assert_array_equal(back.h(x, y), hm.h(x, y))
    assert not hm.heights.flags.writeable


@pytest.mark.parametrize(("z", "pixel", "words"), [
    (np.full((8, 8), np.nan), 1e-6, ("heights", "NaN/inf", "row 0, column 0")),
    (np.pad(np.zeros((7, 8)), ((1, 0), (0, 0)), constant_values=np.inf), 1e-6,
     ("heights", "8 NaN/inf")),
    (np.zeros((3, 3)), 1e-6, ("heights", "at least 4")),
    (np.zeros((8, 10)), 1e-6, ("heights", "8 × 10", "crop")),
    (np.zeros(16), 1e-6, ("heights", "2-D")),
    (np.zeros((4, 4, 4)), 1e-6, ("heights", "2-D")),
    (np.array([["a"] * 4] * 4), 1e-6, ("heights", "real numbers")),
    (np.zeros((8, 8)), 0.0, ("pixel",)),
    (np.zeros((8, 8)), -1e-6, ("pixel",)),
    (np.zeros((8, 8)), math.inf, ("pixel",)),
    (np.zeros((8, 8)), math.nan, ("pixel",)),
    (np.zeros((8, 8)), "1e-6", ("pixel",)),
    (np.eye(8) * 1.0, 1e-6, ("height of the map", "units")),  # 1 m bumps on 1 µm pixels
])
def test_bad_arrays(z, pixel, words):
    with pytest.raises(InputError) as e:
        HeightMap.from_array(z, pixel)
    assert_one_line(e, *words)


def test_bad_smoothing():
    for value in (-1e-6, math.inf, 1.0, "x"):
        with pytest.raises(InputError) as e:
            HeightMap.from_array(np.zeros((8, 8)), 1e-6, smoothing=value)
        assert_one_line(e, "smoothing")


def test_bad_files(tmp_path):
    cases = {}
    cases["missing.csv"] = ("not found",)
    cases["missing.npy"] = ("not found",)
    (tmp_path / "folder.csv").mkdir()
    cases["folder.csv"] = ("folder",)
    (tmp_path / "latin1.csv").write_bytes("1,2,3,4\n5,6,7,\xb5\n".encode("latin-1"))
    cases["latin1.csv"] = ("not UTF-8",)
    (tmp_path / "ragged.csv").write_text("1,2,3,4\n1,2,3,4\n1,2,3\n1,2,3,4\n")
    cases["ragged.csv"] = ("line 3", "ragged")
    (tmp_path / "words.txt").write_text("1 2 3 4\n1 2 x3 4\n")
    cases["words.txt"] = ("line 2, value 3", "'x3'", "not a number")
    (tmp_path / "empty.txt").write_text("\n# nothing\n")
    cases["empty.txt"] = ("no numbers",)
    (tmp_path / "nan.csv").write_text("\n".join(["1,2,3,4"] * 3 + ["1,nan,3,4"]))
    cases["nan.csv"] = ("NaN/inf", "row 3, column 1")
    (tmp_path / "bad.npy").write_bytes(b"not an npy file")
    cases["bad.npy"] = ("not a valid .npy",)
    np.save(tmp_path / "vector.npy", np.zeros(8))
    cases["vector.npy"] = ("2-D",)
    (tmp_path / "map.xlsx").write_text("")
    cases["map.xlsx"] = ("must end in",)
    for name, words in cases.items():
        with pytest.raises(InputError) as e:
            HeightMap.from_file(tmp_path / name, 1e-6)
        assert_one_line(e, name, *words)
    with pytest.raises(InputError) as e:
        HeightMap.from_file(tmp_path / "ragged.csv", 1e-6, unit=0)
    assert_one_line(e, "unit")
