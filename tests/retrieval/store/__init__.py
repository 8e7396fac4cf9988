"""Tests of the index storage (record store and derived indexes)."""
