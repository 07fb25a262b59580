"""The plan's counts and estimate, and putting the configuration back, against a fake
Lambda client (no network). Run by `make test`."""

import json
import tempfile
import unittest
from pathlib import Path

from bench_aws.changes import MARKER, Guard
from bench_aws.plan import Settings, invocation_count, steps
from bench_aws.prices import Prices, invocation_cost
from bench_aws.stack import FunctionInfo, Stack, StackError, describe


def config(name, memory=128, variables=None, **extra):
    return {"FunctionName": name, "MemorySize": memory, "Timeout": 10,
            "Architectures": ["x86_64"], "Environment": {"Variables": variables or {}},
            "LoggingConfig": {"LogFormat": "JSON", "LogGroup": f"/aws/lambda/{name}"},
            "State": "Active", "LastUpdateStatus": "Successful", **extra}


def stack():
    s = Stack(name="s", region="us-east-1", parameters={}, outputs={})
    s.functions["RdsEnrichNaiveFunction"] = FunctionInfo.of("RdsEnrichNaiveFunction", config("s-naive"))
    s.functions["RdsEnrichFunction"] = FunctionInfo.of("RdsEnrichFunction", config("s-global", 256))
    return s


SETTINGS = Settings(phases=("burst", "sweep"), invocations=100, concurrency=4,
                    memory_sizes=(128, 1024), cold=2, warm=5,
                    sweep=("RdsEnrichNaiveFunction", "RdsEnrichFunction"), assumed_ms=50)


class PlanCounts(unittest.TestCase):
    def test_invocations_and_updates(self):
        plan = steps(stack(), SETTINGS, Prices())
        self.assertEqual(invocation_count(stack(), SETTINGS, Prices()), 2 * 100 + 2 * 2 * (2 + 5))
        # 2 to start the burst from new environments, 2 sizes x 2 functions, 2 to restore.
        self.assertEqual(sum(step.updates for step in plan), 2 + 4 + 2)

    def test_estimate_is_the_sum_of_the_invocations(self):
        p = Prices()

        def total(ms):
            return (100 * invocation_cost(p, "x86_64", 128, ms)      # naive burst at 128 MB
                    + 100 * invocation_cost(p, "x86_64", 256, ms)    # global burst at 256 MB
                    + 2 * 7 * invocation_cost(p, "x86_64", 128, ms)  # both, swept at 128
                    + 2 * 7 * invocation_cost(p, "x86_64", 1024, ms))

        plan = steps(stack(), SETTINGS, p)
        self.assertAlmostEqual(sum(s.expected for s in plan), total(50), 12)
        # At most: every invocation runs until its 10 s timeout.
        self.assertAlmostEqual(sum(s.worst for s in plan), total(10_000), 12)

    def test_managed_instances_are_not_swept(self):
        s = stack()
        s.functions["RdsEnrichFunction"] = FunctionInfo.of(
            "RdsEnrichFunction", config("s-global", CapacityProviderConfig={"Arn": "x"}))
        sweep_only = Settings(**{**SETTINGS.__dict__, "phases": ("sweep",)})
        self.assertEqual(invocation_count(s, sweep_only, Prices()), 2 * (2 + 5))

    def test_managed_instances_cost_their_requests_only(self):
        s = stack()
        s.functions["RdsEnrichFunction"] = FunctionInfo.of(
            "RdsEnrichFunction", config("s-global", 2048, CapacityProviderConfig={"Arn": "x"}))
        burst_only = Settings(**{**SETTINGS.__dict__, "phases": ("burst",)})
        p = Prices()
        naive = 100 * invocation_cost(p, "x86_64", 128, 50)
        requests = 100 * p.per_million_requests / 1e6
        burst = steps(s, burst_only, p)[0]
        self.assertAlmostEqual(burst.expected, naive + requests, 12)
        self.assertAlmostEqual(burst.worst, 100 * invocation_cost(p, "x86_64", 128, 10_000)
                               + requests, 12)

    def test_unreadable_environment_is_refused(self):
        broken = config("x")
        broken["Environment"] = {"Error": {"ErrorCode": "AccessDenied", "Message": "KMS"}}
        with self.assertRaises(Exception):
            FunctionInfo.of("RdsEnrichFunction", broken)


class FakeLambda:
    """Get/UpdateFunctionConfiguration and an always-done waiter."""

    def __init__(self, configs):
        self.configs = {c["FunctionName"]: c for c in configs}
        self.updates = []

    def get_function_configuration(self, FunctionName):
        return json.loads(json.dumps(self.configs[FunctionName]))

    def update_function_configuration(self, FunctionName, **changes):
        self.updates.append((FunctionName, changes))
        self.configs[FunctionName].update(json.loads(json.dumps(changes)))

    def get_waiter(self, name):
        assert name == "function_updated_v2"
        return self

    def wait(self, **kwargs):
        pass


class PuttingBack(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.state = Path(self.dir.name) / "s" / "restore.json"
        self.lam = FakeLambda([config("f", 128, {"DATABASE_URL": "mysql://u:secret@h/db"})])

    def tearDown(self):
        self.dir.cleanup()

    def test_change_then_restore(self):
        guard = Guard(self.lam, self.state, "s")
        guard.change("f", 128, "run-1", memory_mb=512)
        self.assertEqual(self.lam.configs["f"]["MemorySize"], 512)
        self.assertEqual(self.lam.configs["f"]["Environment"]["Variables"][MARKER], "run-1")
        saved = json.loads(self.state.read_text())
        self.assertEqual(saved["functions"], {"f": {"MemorySize": 128}})
        # No variable's value is written to disk.
        self.assertNotIn("secret", self.state.read_text())
        guard.restore()
        self.assertEqual(self.lam.configs["f"]["MemorySize"], 128)
        self.assertEqual(self.lam.configs["f"]["Environment"]["Variables"],
                         {"DATABASE_URL": "mysql://u:secret@h/db"})
        self.assertFalse(self.state.exists())

    def test_the_first_memory_size_is_the_one_saved(self):
        guard = Guard(self.lam, self.state, "s")
        guard.change("f", 128, "run-1", memory_mb=512)
        guard.change("f", 128, "run-2", memory_mb=1024)
        self.assertEqual(json.loads(self.state.read_text())["functions"]["f"]["MemorySize"], 128)

    def test_a_left_state_file_is_restored_by_a_new_guard(self):
        Guard(self.lam, self.state, "s").change("f", 128, "run-1", memory_mb=256)
        # The process is killed here; a new one finds the state file.
        again = Guard(self.lam, self.state, "s")
        self.assertTrue(again.pending)
        again.restore()
        self.assertEqual(self.lam.configs["f"]["MemorySize"], 128)
        self.assertNotIn(MARKER, self.lam.configs["f"]["Environment"]["Variables"])
        self.assertFalse(Guard(self.lam, self.state, "s").pending)

    def test_nothing_to_put_back_makes_no_update(self):
        guard = Guard(self.lam, self.state, "s")
        guard.change("f", 128, "run-1")
        self.lam.configs["f"]["Environment"]["Variables"].pop(MARKER)
        before = len(self.lam.updates)
        guard.restore()
        self.assertEqual(len(self.lam.updates), before)

    def test_a_restore_that_did_not_hold_is_an_error_and_keeps_the_state(self):
        guard = Guard(self.lam, self.state, "s")
        guard.change("f", 128, "run-1", memory_mb=256)
        self.lam.update_function_configuration = lambda **kwargs: None  # ignored by "Lambda"
        with self.assertRaises(RuntimeError):
            guard.restore()
        self.assertTrue(self.state.exists())


if __name__ == "__main__":
    unittest.main()


class FakeCloudFormation:
    class meta:
        region_name = "us-east-1"

    def __init__(self, outputs):
        self.outputs = outputs

    def describe_stacks(self, StackName):
        return {"Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v}
                                        for k, v in self.outputs.items()]}]}


class ReadingTheStack(unittest.TestCase):
    def test_managed_instances_run_the_alias_while_latest_is_not_invocable(self):
        # On Managed Instances $LATEST is never invoked (the alias serves a published
        # version) and Lambda reports it ActiveNonInvocable.
        lam = FakeLambda([config("s-global", 2048, State="ActiveNonInvocable",
                                 CapacityProviderConfig={"Arn": "x"})])
        alias = "arn:aws:lambda:us-east-1:123456789012:function:s-global:live"
        cfn = FakeCloudFormation({"RdsEnrichFunction": "s-global", "RdsEnrichAlias": alias})
        s = describe(cfn, lam, "s", ["RdsEnrichFunction"])
        self.assertTrue(s.functions["RdsEnrichFunction"].managed_instances)
        self.assertEqual(s.functions["RdsEnrichFunction"].target, alias)

    def test_a_classic_function_that_is_not_active_is_refused(self):
        for state in ("Pending", "Inactive", "ActiveNonInvocable"):
            with self.subTest(state=state):
                lam = FakeLambda([config("s-global", State=state)])
                cfn = FakeCloudFormation({"RdsEnrichFunction": "s-global"})
                with self.assertRaises(StackError):
                    describe(cfn, lam, "s", ["RdsEnrichFunction"])
