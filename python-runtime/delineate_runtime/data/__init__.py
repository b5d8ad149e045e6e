"""Datasets, preprocessing, augmentation and prompt simulation."""
