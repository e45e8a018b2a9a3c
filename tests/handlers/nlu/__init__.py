"""Tests of language understanding."""
