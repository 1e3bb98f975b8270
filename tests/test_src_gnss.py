"""NMEA codec on golden data with known answers (nodes/sources/gnss/nmea.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodes.sources.gnss.nmea import DEFAULT_SPEED_SIGMA_MPS, KEYS, NmeaDecoder, heading_accuracy
from nodes.sources.gnss.nmea import gnss_type as gnss_type_of
from nodes.sources.sim.nmea_out import epoch
from nodes.sources.sim.vehicle import Vehicle, VehicleSettings

DATA = Path(__file__).parent / "data" / "nmea"


def decode(name: str, **kwargs: object) -> NmeaDecoder:
    decoder = NmeaDecoder(**kwargs)  # type: ignore[arg-type]
    for line in (DATA / name).read_bytes().splitlines():
        decoder.feed(line)
    return decoder


def test_full_epoch_gives_every_gnss_parameter() -> None:
    values = decode("munich_1994.nmea").values()
    assert values == {
        "gnss.latitude": 48.1173,
        "gnss.longitude": 11.5166667,
        "gnss.altitude": 545.4,
        "gnss.speed": 41.48,  # 22.4 knots
        "gnss.heading": 84.4,
        "gnss.hdop": 0.9,
        "gnss.pdop": 2.5,
        "gnss.hacc": 2.25,  # HDOP 0.9 * UERE 2.5 m
        "gnss.fix": 3,
        "gnss.num_sv": 8,
        "gnss.date": "1994-3-23",
        "gnss.time": "12:35:19",
        "gnss.type": None,  # GPS alone: the reference has no name for it
        "gnss.acc_heading": 0.45,  # atan(HDOP 0.9 * 0.1 m/s / 11.52 m/s)
    }


def test_json_types_follow_appendix_a() -> None:
    values = decode("munich_1994.nmea").values()
    assert set(values) == set(KEYS)
    for key in ("gnss.latitude", "gnss.longitude", "gnss.altitude", "gnss.speed", "gnss.heading", "gnss.hdop"):
        assert type(values[key]) is float, key
    assert type(values["gnss.fix"]) is int and type(values["gnss.num_sv"]) is int


def test_bad_checksum_noise_and_truncated_lines_are_counted_and_skipped() -> None:
    decoder = decode("dublin_2011.nmea")
    assert decoder.stats.sentences == 3
    assert decoder.stats.bad_checksum == 3  # corrupted, missing, cut off mid-line
    assert decoder.stats.garbage == 1
    values = decoder.values()
    assert values["gnss.latitude"] == pytest.approx(53.361337, abs=1e-6)
    assert values["gnss.longitude"] == pytest.approx(-6.50562, abs=1e-6)
    assert values["gnss.speed"] == 0.04  # 0.02 kn
    assert values["gnss.date"] == "2011-5-28"
    assert values["gnss.time"] == "09:27:50"


def test_missing_checksum_accepted_when_not_required() -> None:
    decoder = NmeaDecoder(require_checksum=False)
    assert decoder.feed("$GPGSA,A,2,10,07,05,,,,,,,,,,2.72,1.93,1.88") == "GSA"
    assert decoder.stats.bad_checksum == 0


def test_no_fix_keeps_time_and_invalidates_position() -> None:
    values = decode("no_fix_2017.nmea").values()
    assert values["gnss.fix"] == 0
    assert values["gnss.num_sv"] == 0
    assert values["gnss.latitude"] is None and values["gnss.speed"] is None and values["gnss.hacc"] is None
    assert values["gnss.date"] == "2017-7-30"
    assert values["gnss.time"] == "21:02:09"


def test_ublox_pubx_gives_fix_class_and_accuracy() -> None:
    values = decode("ublox_pubx.nmea").values()
    assert values["gnss.fix"] == 3
    assert values["gnss.hacc"] == 2.1  # the receiver's own estimate wins over GST and HDOP
    assert values["gnss.num_sv"] == 9
    assert values["gnss.latitude"] == pytest.approx(47.285220, abs=1e-6)
    assert values["gnss.altitude"] == 546.589


def test_gst_error_ellipse_gives_accuracy() -> None:
    decoder = NmeaDecoder()
    decoder.feed("$GPGST,024603.00,3.2,6.6,4.7,47.3,5.8,5.6,22.0*58")
    decoder.feed("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47")
    assert decoder.values()["gnss.hacc"] == 8.06  # hypot(5.8, 5.6)


@pytest.mark.parametrize(("nav_stat", "fix"), [("NF", 0), ("DR", 1), ("G2", 2), ("D3", 3), ("RK", 4), ("TT", 5)])
def test_pubx_navigation_status_maps_to_fix(nav_stat: str, fix: int) -> None:
    body = f"PUBX,00,081350.00,4717.113210,N,00833.915187,E,546.589,{nav_stat},2.1,2.0,0.007,77.52,0.007,,0.92,1.19,0.77,9,0,0"
    checksum = 0
    for char in body:
        checksum ^= ord(char)
    decoder = NmeaDecoder()
    assert decoder.feed(f"${body}*{checksum:02X}") == "PUBX00"
    assert decoder.values()["gnss.fix"] == fix


def test_num_sv_is_clamped_to_twelve() -> None:
    decoder = NmeaDecoder(require_checksum=False)
    decoder.feed("$GNGGA,101621.00,4807.038,N,01131.000,E,1,23,0.6,545.4,M,46.9,M,,")
    assert decoder.values()["gnss.num_sv"] == 12


def test_dead_reckoning_quality_is_dr_only() -> None:
    decoder = NmeaDecoder(require_checksum=False)
    decoder.feed("$GPGGA,101621.00,4807.038,N,01131.000,E,6,00,,545.4,M,46.9,M,,")
    assert decoder.values()["gnss.fix"] == 1


def test_simulated_epoch_round_trips_through_the_decoder() -> None:
    state = Vehicle().state(900.0)
    decoder = NmeaDecoder()
    for sentence in epoch(state):
        assert decoder.feed(sentence) is not None
    values = decoder.values()
    assert values["gnss.latitude"] == pytest.approx(state.latitude, abs=1e-6)
    assert values["gnss.longitude"] == pytest.approx(state.longitude, abs=1e-6)
    assert values["gnss.speed"] == pytest.approx(state.speed_kmh, abs=0.01)
    assert values["gnss.heading"] == pytest.approx(state.heading, abs=0.01)
    assert values["gnss.num_sv"] == state.num_sv


# -- constellations (gnss.type) and heading accuracy (gnss.acc_heading), FlexAPI 1.0.9 --------------


def with_checksum(body: str) -> str:
    checksum = 0
    for char in body:
        checksum ^= ord(char)
    return f"${body}*{checksum:02X}"


@pytest.mark.parametrize(
    ("name", "gnss_type"),
    [
        ("ublox_gps_glonass.nmea", "GPS+Glonass"),  # GN GSA without system id: by satellite numbers
        ("gps_beidou_nmea410.nmea", "GPS+Beidou"),  # BeiDou: one satellite in view, none used
        ("ublox_m10_gsv.nmea", "GPS+Galileo"),  # BeiDou and QZSS with nothing in view do not count
        ("beidou_gps_gsa.nmea", "GPS+Beidou"),  # BD and GP talkers
        ("munich_1994.nmea", None),  # GPS alone has no name in the reference
    ],
)
def test_constellations_from_talker_ids_system_ids_and_satellite_numbers(name: str, gnss_type: str | None) -> None:
    assert decode(name).values()["gnss.type"] == gnss_type


def test_each_sentence_names_its_constellations() -> None:
    decoder = decode("ublox_gps_glonass.nmea")
    assert set(decoder.systems) == {"GPS", "GLONASS"}
    decoder = decode("gps_beidou_nmea410.nmea")
    assert set(decoder.systems) == {"GPS", "BeiDou"}


@pytest.mark.parametrize(
    ("systems", "gnss_type"),
    [
        ({"BeiDou"}, "Beidou"),
        ({"GPS", "BeiDou", "GLONASS"}, "GPS+Beidou"),
        ({"GPS", "GLONASS", "Galileo"}, "GPS+Glonass"),
        ({"GPS", "Galileo"}, "GPS+Galileo"),
        ({"GLONASS"}, None),
        (set(), None),
    ],
)
def test_the_reference_names_four_combinations(systems: set[str], gnss_type: str | None) -> None:
    assert gnss_type_of(systems) == gnss_type


def test_a_constellation_no_longer_heard_stops_counting_after_three_epochs() -> None:
    decoder = NmeaDecoder()
    decoder.feed(with_checksum("GLGSV,1,1,01,65,45,120,40"))
    decoder.feed(with_checksum("GPGSV,1,1,01,01,45,120,40"))
    for second in range(10, 14):
        decoder.feed(with_checksum(f"GPGGA,1235{second},4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"))
        decoder.feed(with_checksum("GPGSV,1,1,01,01,45,120,40"))
        expected = "GPS+Glonass" if second < 12 else None
        assert decoder.values()["gnss.type"] == expected, second


def test_pashr_heading_accuracy_is_the_receivers_own() -> None:
    decoder = decode("munich_1994.nmea")
    decoder.feed((DATA / "sbg_pashr.nmea").read_text().splitlines()[0])
    assert decoder.values()["gnss.acc_heading"] == 1.07
    decoder.feed((DATA / "sbg_pashr.nmea").read_text().splitlines()[1])
    assert decoder.values()["gnss.acc_heading"] == 0.53  # two decimals, as every gnss value


@pytest.mark.parametrize(
    ("speed_kmh", "hdop", "expected"),
    [(100.0, 1.0, 0.21), (36.0, 2.0, 1.15), (3.6, 1.0, 5.71), (0.3, 1.0, 180.0), (0.0, 0.8, 180.0)],
)
def test_heading_accuracy_derived_from_speed_and_hdop(speed_kmh: float, hdop: float, expected: float) -> None:
    """atan(HDOP * 0.1 m/s / v); standing still the course is undetermined."""
    assert heading_accuracy(speed_kmh, hdop * DEFAULT_SPEED_SIGMA_MPS) == expected


def test_no_fix_has_no_heading_accuracy() -> None:
    values = decode("no_fix_2017.nmea").values()
    assert values["gnss.acc_heading"] is None


def test_simulated_receiver_names_its_constellations_and_heading_accuracy() -> None:
    for gnss_type in ("Beidou", "GPS+Beidou", "GPS+Glonass", "GPS+Galileo"):
        vehicle = Vehicle(VehicleSettings(gnss_type=gnss_type))  # type: ignore[arg-type]
        state = vehicle.state(900.0)
        decoder = NmeaDecoder()
        for sentence in epoch(state):
            decoder.feed(sentence)
        values = decoder.values()
        assert values["gnss.type"] == gnss_type
        assert values["gnss.num_sv"] == state.num_sv
        assert values["gnss.acc_heading"] == heading_accuracy(state.speed_kmh, state.hdop * DEFAULT_SPEED_SIGMA_MPS)
