"""Synthetic field exports of a prefecture-wide visiting campaign, with ground truth."""
