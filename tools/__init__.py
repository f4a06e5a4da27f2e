"""Tools the README names: the e2e driver, benchmarks, doc generators and stand-ins (not tests)."""
