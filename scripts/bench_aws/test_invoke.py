"""Timed invocations against a fake Lambda client (no network): whatever an answer holds,
every invocation is recorded and no worker dies. Run by `make test`."""

import io
import threading
import unittest

from bench_aws.invoke import TooManyErrors, invoke_once, run_concurrently


class FakeLambda:
    def __init__(self, answer):
        self.answer = answer
        self.calls = 0
        self.lock = threading.Lock()

    def invoke(self, **kwargs):
        with self.lock:
            self.calls += 1
        return self.answer()


def answer(log_result):
    return lambda: {"Payload": io.BytesIO(b"{}"), "LogResult": log_result,
                    "ResponseMetadata": {"RequestId": "r", "RetryAttempts": 0}}


class Invocations(unittest.TestCase):
    def test_a_tail_that_is_not_base64_is_an_invocation_without_reports(self):
        record = invoke_once(FakeLambda(answer("not base64!")), "f", {}, 0, 0.0)
        self.assertIsNone(record.report)
        self.assertIsNone(record.api_error)

    def test_an_answer_without_its_metadata_is_still_a_record(self):
        record = invoke_once(FakeLambda(lambda: {"Payload": io.BytesIO(b"{}")}), "f", {}, 0, 0.0)
        self.assertIsNone(record.api_error)
        self.assertEqual(record.retries, 0)

    def test_an_unexpected_error_is_recorded_and_no_worker_dies(self):
        lam = FakeLambda(lambda: {"Payload": None})  # no body to read
        records = run_concurrently(lam, "f", lambda i: {}, 6, 3, threading.Event())
        self.assertEqual(lam.calls, 6)
        self.assertEqual(sorted(r.i for r in records), list(range(6)))
        self.assertTrue(all(r.api_error.startswith("harness: ") for r in records))
        # And as many in a row as failed Invoke calls stop the run, as those do.
        with self.assertRaises(TooManyErrors):
            run_concurrently(lam, "f", lambda i: {}, 100, 3, threading.Event())


if __name__ == "__main__":
    unittest.main()
