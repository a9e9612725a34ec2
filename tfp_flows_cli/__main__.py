"""``python -m tfp_flows_cli``: the ``tfp-flows`` command."""
import sys

from tfp_flows_cli import main

if __name__ == "__main__":
    sys.exit(main())
