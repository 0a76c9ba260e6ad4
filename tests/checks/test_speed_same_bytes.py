"""A candidate byte-identical to its champion is the same model: speed.training passes by
identity, deterministically, without measuring machine noise."""

from __future__ import annotations

from mlchecks.checks import speed as speed_checks


def test_same_bytes_pass_with_ratio_one_and_say_why():
    check = speed_checks.same_bytes_check(0.25, model="mlp", where="mlp on digits",
                                          champion="0001 of 'mlp'")  # fmt: skip
    assert check.passed and check.status == "passed" and not check.blocking
    assert check.value == 1.0 and check.threshold == 1.25
    assert "same bytes (sha256) as champion 0001 of 'mlp'" in check.message
    assert check.to_json() == speed_checks.same_bytes_check(
        0.25, model="mlp", where="mlp on digits", champion="0001 of 'mlp'").to_json()
