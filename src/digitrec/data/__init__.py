"""Data: IDX and Kaggle formats, fetching with checksums, datasets as arrays, splits."""

from .datasets import DIGIT_CLASSES, FASHION_CLASSES, SPEC_HELP, Dataset, Split, load_dataset
from .idx import read_idx, write_idx
from .kaggle import read_kaggle_csv, write_kaggle_csv, write_submission
from .sources import SOURCES, data_home, fetch
from .splits import kfold_indices, stratified_split, stratified_subset

__all__ = [
    "DIGIT_CLASSES",
    "FASHION_CLASSES",
    "SOURCES",
    "SPEC_HELP",
    "Dataset",
    "Split",
    "data_home",
    "fetch",
    "kfold_indices",
    "load_dataset",
    "read_idx",
    "read_kaggle_csv",
    "stratified_split",
    "stratified_subset",
    "write_idx",
    "write_kaggle_csv",
    "write_submission",
]
