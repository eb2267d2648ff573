"""The fake `modal.config`: tokens come from MODAL_TOKEN_ID / MODAL_TOKEN_SECRET only."""

import os


class _Config:
    def get(self, key, *, profile=None, use_env=True):
        return os.environ.get("MODAL_" + key.upper()) if use_env else None


config = _Config()
