import numpy as np
import prcoords
import pytest

from geo_patrol import crs
from geo_patrol.errors import CRSError
from tests.helpers import haversine_m

rng = np.random.default_rng(42)
LON = rng.uniform(100.0, 125.0, 2000)
LAT = rng.uniform(20.0, 48.0, 2000)


def test_forward_transforms_match_prcoords():
    gx, gy = crs.wgs84_to_gcj02(LON, LAT)
    bx, by = crs.wgs84_to_bd09(LON, LAT)
    for i in range(0, 2000, 97):
        g = prcoords.wgs_gcj((LAT[i], LON[i]))
        b = prcoords.wgs_bd((LAT[i], LON[i]))
        assert gx[i] == pytest.approx(g.lon, abs=1e-12)
        assert gy[i] == pytest.approx(g.lat, abs=1e-12)
        assert bx[i] == pytest.approx(b.lon, abs=1e-12)
        assert by[i] == pytest.approx(b.lat, abs=1e-12)


def test_offset_is_hundreds_of_metres_in_baotou():
    gx, gy = crs.wgs84_to_gcj02(np.array([109.84]), np.array([40.65]))
    shift = haversine_m(109.84, 40.65, gx[0], gy[0])
    assert 300 < shift < 800


@pytest.mark.parametrize("forward,inverse", [
    (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84),
    (crs.wgs84_to_bd09, crs.bd09_to_wgs84),
])
def test_round_trip_under_a_millimetre(forward, inverse):
    x, y = inverse(*forward(LON, LAT))
    assert haversine_m(LON, LAT, x, y).max() < 1e-3


def test_outside_china_is_unchanged():
    lon, lat = np.array([24.94, -122.3]), np.array([60.17, 37.8])
    gx, gy = crs.wgs84_to_gcj02(lon, lat)
    np.testing.assert_array_equal(gx, lon)
    np.testing.assert_array_equal(gy, lat)


@pytest.mark.parametrize("text,name", [("wgs84", "EPSG:4326"), ("GCJ02", "gcj02"),
                                       ("bd-09", "bd09"), ("cgcs2000", "EPSG:4490"),
                                       ("EPSG:2223", "EPSG:2223")])
def test_parse_crs(text, name):
    assert crs.parse_crs(text).name == name


def test_unknown_crs_is_a_clear_error():
    with pytest.raises(CRSError, match="unknown CRS 'mars'"):
        crs.parse_crs("mars")


def test_projected_input_converts_with_pyproj():
    # Mesa, Arizona in NAD83 / Arizona Central (ftUS)
    lon, lat = crs.lonlat_to_wgs84(np.array([702000.0]), np.array([880000.0]), "EPSG:2223")
    assert -112.0 < lon[0] < -111.5 and 33.2 < lat[0] < 33.6


def test_utm_zone():
    assert crs.utm_crs_for(109.84, 40.65) == "EPSG:32649"
    assert crs.utm_crs_for(24.94, 60.17) == "EPSG:32635"
    assert crs.utm_crs_for(-70.0, -33.0) == "EPSG:32719"
