"""Cost arithmetic, checked against the worked example of aws.amazon.com/lambda/pricing/
(512 MB, 1 s per invocation: 0.5 GB-s each) and against hand-computed figures."""

import unittest

from bench_aws.prices import Prices, billed_ms, invocation_cost, per_million


class Cost(unittest.TestCase):
    def test_pricing_page_example(self):
        # 3 million invocations of 1 s at 512 MB: 1,500,000 GB-s, 3 M requests (no free tier).
        prices = Prices(x86_64_per_gb_second=0.00001667)
        total = invocation_cost(prices, "x86_64", 512, 1000) * 3_000_000
        self.assertAlmostEqual(total, 1_500_000 * 0.00001667 + 3 * 0.20, places=6)

    def test_per_million_at_128_mb_and_50_ms(self):
        # 0.125 GB * 0.05 s * 1e6 = 6,250 GB-s.
        expected = 6_250 * 0.0000166667 + 0.20
        self.assertAlmostEqual(per_million(Prices(), "x86_64", 128, 50), expected, places=9)

    def test_arm64_is_priced_apart(self):
        x86 = per_million(Prices(), "x86_64", 1024, 100)
        arm = per_million(Prices(), "arm64", 1024, 100)
        self.assertAlmostEqual(x86 - arm, 100_000 * (0.0000166667 - 0.0000133334), places=9)

    def test_unknown_architecture_is_an_error(self):
        with self.assertRaises(ValueError):
            Prices().per_gb_second("riscv")

    def test_billed_duration_rounds_up_to_the_millisecond(self):
        self.assertEqual(billed_ms(38.01), 39)
        self.assertEqual(billed_ms(39.0), 39)
        self.assertEqual(billed_ms(0.2), 1)


if __name__ == "__main__":
    unittest.main()
