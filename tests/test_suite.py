"""The test suite's own machinery, which its time rests on."""
import pytest


@pytest.mark.slow  # two xdist workers in a pytester run
def test_the_tests_of_one_xdist_group_share_a_worker(pytester):
    """Under --dist loadgroup every test of a group runs in one worker, so that what a module computes once
    (a layer's reports, a graded class) is computed once; pytest 9.2 silently broke this (setup.cfg)."""
    pytester.makepyfile(test_grouped="""
        import os
        import pytest

        @pytest.mark.xdist_group("one")
        @pytest.mark.parametrize("number", range(6))
        def test_grouped(number):
            with open(f"worker-{number}", "w") as stream:
                stream.write(os.environ["PYTEST_XDIST_WORKER"])
    """)
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)
    assert len({(pytester.path / f"worker-{number}").read_text() for number in range(6)}) == 1
