"""Department connections in Airflow's JSON form and where lianban keeps its files (lianban.wire.settings)."""

from __future__ import annotations

import json

import pytest

from lianban.errors import ConfigError
from lianban.wire.settings import DepartmentSettings, parse_connection

SECRET = "s3cret-Pa55"
MEDICAL = json.dumps({
    "conn_type": "http", "host": "medical.example.test", "port": 8443, "schema": "https",
    "login": "hub", "password": SECRET,
    "extra": {"wsdl": "https://medical.example.test/ws?wsdl", "batch_size": 25,
              "connect_timeout": 2, "read_timeout": 9},
})


def test_a_full_connection_is_parsed() -> None:
    s = parse_connection("medical", MEDICAL)
    assert (s.department, s.base_url, s.login, s.password) == ("medical", "https://medical.example.test:8443",
                                                              "hub", SECRET)
    assert s.wsdl == "https://medical.example.test/ws?wsdl" and s.batch_size == 25
    assert s.transport.timeout == (2.0, 9.0) and s.transport.verify is True


def test_batches_of_1000_by_default_100_to_the_sms_gateway_2500_to_wanshi_tong_and_a_setting_still_wins() -> None:
    assert parse_connection("health", json.dumps({"host": "h"})).batch_size == 1000
    assert parse_connection("wanshi_tong", json.dumps({"host": "h"})).batch_size == 2500
    assert parse_connection("sms", json.dumps({"host": "h"})).batch_size == 100
    assert parse_connection("wanshi_tong", json.dumps({"host": "h", "extra": {"batch_size": 50}})).batch_size == 50


def test_two_lanes_by_default_and_a_setting_wins_but_never_none() -> None:
    assert parse_connection("medical", json.dumps({"host": "h"})).lanes == 2
    assert parse_connection("medical", json.dumps({"host": "h", "extra": {"lanes": 1}})).lanes == 1
    with pytest.raises(ConfigError, match=r"dept_medical: field 'extra' has a malformed 'lanes'"):
        parse_connection("medical", json.dumps({"host": "h", "extra": {"lanes": 0}}))


def test_lanes_share_the_rate_the_department_allows() -> None:
    limited = parse_connection("medical", json.dumps({"host": "h", "extra": {"rate_limit": 10, "lanes": 4}}))
    assert limited.per_lane().rate_limit == 2.5 and limited.per_lane().lanes == 4 and limited.rate_limit == 10
    free = parse_connection("medical", json.dumps({"host": "h"}))
    assert free.per_lane() is free


def test_two_processes_by_default_and_the_rate_shared_by_every_lane_of_every_process() -> None:
    assert parse_connection("medical", json.dumps({"host": "h"})).processes == 2
    one = parse_connection("medical", json.dumps({"host": "h", "extra": {"processes": 1, "lanes": 1}}))
    assert one.processes == 1 and one.per_lane(1) is one
    limited = parse_connection("medical", json.dumps({"host": "h", "extra": {"rate_limit": 12, "lanes": 2}}))
    assert limited.per_lane(3).rate_limit == 2.0 and limited.per_lane().rate_limit == 6.0
    with pytest.raises(ConfigError, match=r"dept_medical: field 'extra' has a malformed 'processes'"):
        parse_connection("medical", json.dumps({"host": "h", "extra": {"processes": "two"}}))


def test_defaults_and_extra_given_as_a_json_string() -> None:
    s = parse_connection("health", json.dumps({"host": "h", "extra": json.dumps({"batch_size": "7"})}))
    assert s.base_url == "http://h" and s.batch_size == 7 and s.wsdl is None
    assert s.transport.timeout == (5.0, 30.0)


def test_missing_host_names_the_connection_and_the_field() -> None:
    with pytest.raises(ConfigError, match=r"dept_medical.*'host'"):
        parse_connection("medical", json.dumps({"port": 80}))


@pytest.mark.parametrize("raw", ["{not json", ""])
def test_malformed_json_names_the_connection(raw: str) -> None:
    with pytest.raises(ConfigError, match=r"dept_housing_fund: not valid JSON"):
        parse_connection("housing_fund", raw)


def test_malformed_extra_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"dept_medical: field 'extra'"):
        parse_connection("medical", json.dumps({"host": "h", "extra": {"batch_size": "many"}}))


@pytest.mark.parametrize("key", ["read_timeout", "connect_timeout", "answer_timeout", "rate_limit"])
@pytest.mark.parametrize("value", ["nan", "inf", "Infinity", 1e999])
def test_a_number_that_is_not_finite_is_a_config_error(key: str, value: object) -> None:
    """NaN passed the check that a value is positive (NaN <= 0 is false): a rate limit of NaN limited nothing, and a
    timeout of NaN or infinity is no timeout."""
    with pytest.raises(ConfigError, match=rf"dept_medical: field 'extra' has a malformed '{key}'"):
        parse_connection("medical", json.dumps({"host": "h", "extra": {key: value}}))


def test_extra_string_that_is_not_json_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="dept_medical"):
        parse_connection("medical", json.dumps({"host": "h", "extra": "{batch_size: 5"}))


def test_json_that_is_not_an_object_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="dept_medical"):
        parse_connection("medical", "[]")


def test_repr_never_shows_the_password() -> None:
    s = parse_connection("medical", MEDICAL)
    assert SECRET not in repr(s) and SECRET not in str(s)
    assert SECRET not in repr(DepartmentSettings("x", "http://x", password=SECRET))
