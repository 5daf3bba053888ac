"""Cambodia PROTECT helpline referral bot: message in, kind referral out, 1280 always."""

__version__ = "0.1.0"
