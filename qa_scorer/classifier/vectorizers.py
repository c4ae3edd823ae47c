"""Vectorised TF-IDF for character n-grams and pre-cut word tokens.

scikit-learn's ``TfidfVectorizer`` looks every n-gram up in a Python dict, one document at a
time; on 150,000 distinct replies that alone takes seconds.  These two transformers compute
the same kind of features (sublinear TF, smoothed IDF, L2-normalised rows) with whole-array
numpy/pandas operations:

* ``CharNgramTfidf`` encodes each character n-gram of all documents as one integer
  (code points in base 2**21) and looks the integers up in a hash index.
* ``TokenTfidf`` takes space-joined tokens (from ``features.tokenize``), looks all tokens up at
  once, and builds bigram keys from neighbouring token ids.

Both store only numpy arrays (skops-friendly) and rebuild their lookup indexes lazily per
process.
"""

from __future__ import annotations

import weakref

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import normalize

_BASE = np.uint64(1 << 21)  # above the largest code point (0x10FFFF) + 1

# Lookup indexes (pandas hash tables) per fitted transformer, built once per process.
_INDEXES: "weakref.WeakKeyDictionary[object, tuple]" = weakref.WeakKeyDictionary()


def _tfidf_rows(doc_ids: np.ndarray, cols: np.ndarray, n_docs: int, idf: np.ndarray) -> sp.csr_matrix:
    """Sparse (n_docs x len(idf)) matrix: (1 + log tf) * idf, rows L2-normalised; cols < 0 dropped."""
    keep = cols >= 0
    counts = sp.coo_matrix((np.ones(int(keep.sum()), dtype=np.float32), (doc_ids[keep], cols[keep])),
                           shape=(n_docs, len(idf))).tocsr()  # duplicates are summed: raw term counts
    counts.data = ((1.0 + np.log(counts.data)) * idf[counts.indices]).astype(np.float32)
    return normalize(counts, norm="l2", copy=False) if n_docs and len(idf) else counts


def _document_frequency(doc_ids: np.ndarray, keys: np.ndarray) -> pd.Series:
    """Number of documents each key occurs in (index = key)."""
    pairs = pd.DataFrame({"doc": doc_ids, "key": keys}).drop_duplicates()
    return pairs["key"].value_counts(sort=False)


def _smooth_idf(df: np.ndarray, n_docs: int) -> np.ndarray:
    return (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)


# ------------------------------------------------------------------------------------------
def char_ngram_keys(strings, n_min: int, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """``(doc_ids, keys)`` of every character n-gram (n_min..n_max) of every string.

    An n-gram c1..cn is the integer sum((ord(ci)+1) * 2**(21*(n-i))); n <= 3 fits in uint64
    and different lengths never collide (the +1 keeps leading digits non-zero).
    """
    if n_max > 3:
        raise ValueError("character n-grams longer than 3 do not fit the integer encoding")
    strings = list(strings)
    lengths = np.fromiter((len(s) for s in strings), dtype=np.int64, count=len(strings))
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    cps = np.frombuffer("".join(strings).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64) + np.uint64(1)
    doc = np.repeat(np.arange(len(strings), dtype=np.int64), lengths)
    starts = np.cumsum(lengths) - lengths
    remaining = lengths[doc] - (np.arange(total, dtype=np.int64) - starts[doc])  # chars left incl. this one
    doc_parts, key_parts = [], []
    key = np.zeros(total, dtype=np.uint64)
    for n in range(1, n_max + 1):
        nxt = np.zeros(total, dtype=np.uint64)
        nxt[: total - n + 1] = cps[n - 1:]
        key = key * _BASE + nxt
        if n >= n_min:
            valid = remaining >= n
            doc_parts.append(doc[valid])
            key_parts.append(key[valid])
    return np.concatenate(doc_parts), np.concatenate(key_parts)


def decode_char_key(key: int) -> str:
    chars = []
    key = int(key)
    base = int(_BASE)
    while key:
        key, digit = divmod(key, base)
        chars.append(chr(digit - 1))
    return "".join(reversed(chars))


class CharNgramTfidf(TransformerMixin, BaseEstimator):
    """TF-IDF of character n-grams (like ``TfidfVectorizer(analyzer="char", sublinear_tf=True)``)."""

    def __init__(self, ngram_range=(1, 3), min_df=2):
        self.ngram_range = ngram_range
        self.min_df = min_df

    def fit(self, strings, y=None):
        strings = list(strings)
        doc_ids, keys = char_ngram_keys(strings, *self.ngram_range)
        df = _document_frequency(doc_ids, keys)
        df = df[df >= self.min_df].sort_index()
        self.keys_ = df.index.to_numpy(dtype=np.uint64)
        self.idf_ = _smooth_idf(df.to_numpy(dtype=np.float64), len(strings))
        return self

    def _index(self) -> pd.Index:
        index = _INDEXES.get(self)
        if index is None:
            index = _INDEXES[self] = pd.Index(self.keys_)
        return index

    def transform(self, strings) -> sp.csr_matrix:
        strings = list(strings)
        doc_ids, keys = char_ngram_keys(strings, *self.ngram_range)
        cols = self._index().get_indexer(keys) if len(keys) else np.zeros(0, dtype=np.intp)
        return _tfidf_rows(doc_ids, cols, len(strings), self.idf_)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.array([decode_char_key(k) for k in self.keys_], dtype=object)


# ------------------------------------------------------------------------------------------
def _flatten_tokens(docs) -> tuple[np.ndarray, np.ndarray]:
    """Space-joined token strings -> (doc_ids, token list) for all tokens of all documents."""
    docs = list(docs)
    counts = np.fromiter((d.count(" ") + 1 if d else 0 for d in docs), dtype=np.int64, count=len(docs))
    tokens = " ".join(d for d in docs if d).split(" ") if counts.sum() else []
    doc_ids = np.repeat(np.arange(len(docs), dtype=np.int64), counts)
    return doc_ids, tokens


class TokenTfidf(TransformerMixin, BaseEstimator):
    """TF-IDF of token unigrams (and bigrams) from space-joined token strings.

    Bigram columns follow the unigram columns.  A bigram is kept only when both its tokens are
    in the unigram vocabulary, which is always the case for min_df-frequent bigrams.
    """

    def __init__(self, ngram_max=2, min_df=2):
        self.ngram_max = ngram_max
        self.min_df = min_df

    def fit(self, docs, y=None):
        docs = list(docs)
        doc_ids, tokens = _flatten_tokens(docs)
        tokens = np.asarray(tokens, dtype=object)
        df = _document_frequency(doc_ids, tokens) if len(tokens) else pd.Series([], dtype=np.int64)
        df = df[df >= self.min_df].sort_index()
        self.tokens_ = np.asarray(df.index.to_numpy(dtype=object).astype(str), dtype=str)
        unigram_idf = _smooth_idf(df.to_numpy(dtype=np.float64), len(docs))
        self.bigram_keys_ = np.zeros(0, dtype=np.int64)
        bigram_idf = np.zeros(0, dtype=np.float32)
        if self.ngram_max >= 2 and len(self.tokens_):
            b_docs, b_keys = self._bigrams(doc_ids, pd.Index(self.tokens_).get_indexer(tokens))
            bdf = _document_frequency(b_docs, b_keys) if len(b_keys) else pd.Series([], dtype=np.int64)
            bdf = bdf[bdf >= self.min_df].sort_index()
            self.bigram_keys_ = bdf.index.to_numpy(dtype=np.int64)
            bigram_idf = _smooth_idf(bdf.to_numpy(dtype=np.float64), len(docs))
        self.idf_ = np.concatenate([unigram_idf, bigram_idf]).astype(np.float32)
        return self

    def _bigrams(self, doc_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keys id1 * V + id2 of neighbouring known tokens in the same document."""
        v = np.int64(len(self.tokens_))
        same_doc = doc_ids[1:] == doc_ids[:-1]
        known = (ids[1:] >= 0) & (ids[:-1] >= 0)
        ok = same_doc & known
        return doc_ids[1:][ok], ids[:-1][ok].astype(np.int64) * v + ids[1:][ok]

    def _indexes(self) -> tuple[dict, pd.Index]:
        idx = _INDEXES.get(self)
        if idx is None:
            # A plain dict beats a pandas object index for millions of short-string lookups.
            vocabulary = {token: i for i, token in enumerate(self.tokens_.tolist())}
            idx = _INDEXES[self] = (vocabulary, pd.Index(self.bigram_keys_))
        return idx

    def transform(self, docs) -> sp.csr_matrix:
        docs = list(docs)
        doc_ids, tokens = _flatten_tokens(docs)
        vocabulary, bigram_index = self._indexes()
        lookup = vocabulary.get
        ids = np.fromiter((lookup(t, -1) for t in tokens), dtype=np.int64, count=len(tokens))
        all_docs, all_cols = [doc_ids], [ids]
        if self.ngram_max >= 2 and len(self.bigram_keys_) and len(ids) > 1:
            b_docs, b_keys = self._bigrams(doc_ids, ids)
            b_cols = bigram_index.get_indexer(b_keys)
            all_docs.append(b_docs)
            all_cols.append(np.where(b_cols >= 0, b_cols + len(self.tokens_), -1))
        return _tfidf_rows(np.concatenate(all_docs), np.concatenate(all_cols), len(docs), self.idf_)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        unigrams = self.tokens_.astype(object)
        v = len(self.tokens_)
        bigrams = np.array([f"{unigrams[k // v]} {unigrams[k % v]}" for k in self.bigram_keys_], dtype=object)
        return np.concatenate([unigrams, bigrams]).astype(object)
