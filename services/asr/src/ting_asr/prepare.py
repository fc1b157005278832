"""``python -m ting_asr.prepare``: make the packaged models loadable (join split weights once).

Run by ``make setup`` so the first service start does not pay for it; safe to run again.
"""

from __future__ import annotations

import sys

from ting_asr.config import AsrSettings
from ting_asr.models import PACKAGED_MODELS, resolve_model
from ting_common.errors import TingError


def main() -> int:
    settings = AsrSettings()
    for name in PACKAGED_MODELS:
        try:
            canonical, path, _ = resolve_model(name, settings.cache_dir)
        except TingError as exc:
            print(f"ting-asr: {name}: {exc}", file=sys.stderr)
            return 1
        print(f"model {canonical}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
