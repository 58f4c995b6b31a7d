#!/usr/bin/env python3
"""Build lmtool's default corpus, corpora/default.jsonl.zst, from pinned Debian packages.

The corpus is a labelled multi-domain English corpus (one JSON document per line) that the
demo trains language models and a domain classifier on. Everything is rebuilt from Debian
bookworm packages whose exact versions and .deb SHA-256 values are pinned below, so the
output is identical byte for byte on any machine with python3, apt-get, dpkg-deb and the
zstd CLI (the version used is recorded in corpora/SOURCES.md).

Usage:
    python3 scripts/build_default_corpus.py [--out corpora/default.jsonl.zst] [--check]
        [--debs DIR]

Writing to the default --out also rewrites corpora/SOURCES.md (figures and SHA-256 values);
another --out path gets only the .zst. --check rebuilds into a temporary directory and compares the SHA-256 of the decompressed
JSONL and of the .zst with the values recorded in corpora/SOURCES.md (exit 1 on mismatch).
--debs DIR reuses .deb files already downloaded into DIR (their SHA-256 is still verified).

Only the Python standard library is used. Unit tests of the text cleaners and readers:
    python3 -m unittest discover -s scripts/corpus_build
"""

import argparse
import codecs
import gzip
import hashlib
import html
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "corpora", "default.jsonl.zst")
SOURCES_MD = os.path.join(REPO, "corpora", "SOURCES.md")

ZSTD_ARGS = ["zstd", "-19", "-T1", "-q", "--no-progress", "-c"]

# Debian bookworm packages: name -> (version, .deb file name, SHA-256 of the .deb).
PACKAGES = {
    "dict-foldoc": (
        "20230119-1", "dict-foldoc_20230119-1_all.deb",
        "745cbedb55c2da609cc88ee0284e9d11a67a11ae3709daf7bad0e895ac3294c3"),
    "dict-jargon": (
        "4.4.7-3.1", "dict-jargon_4.4.7-3.1_all.deb",
        "405f8168d7994ed2cb71407bb95493daec2e9aa66fc0461dafa74a9d6728a8c1"),
    "dict-gcide": (
        "0.48.5+nmu2", "dict-gcide_0.48.5+nmu2_all.deb",
        "7b0af5cfde3cbdef5e9d6e78f92ec335ced7c2790f37a40f49bebc6f7347ac0f"),
    "dict-devil": (
        "1.0-13.1", "dict-devil_1.0-13.1_all.deb",
        "6a535684def2a1f70cd42da16d12d43f0e9dc3e54e4a329178eebab3170e3154"),
    "sword-text-kjv": (
        "14.3-1", "sword-text-kjv_14.3-1_all.deb",
        "9f463f28ce665f6f528fc723179722bced880a4c5485f7a41bf742838315de57"),
    "r-cran-janeaustenr": (
        "1.0.0-1", "r-cran-janeaustenr_1.0.0-1_all.deb",
        "df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95"),
    "python3.11-doc": (
        "3.11.2-6+deb12u9", "python3.11-doc_3.11.2-6+deb12u9_all.deb",
        "5b3594189d6ef9a6963ce0347fd307a1cc67620ad697e144db366070e2e146be"),
    "fortunes": (
        "1:1.99.1-7.3", "fortunes_1%3a1.99.1-7.3_all.deb",
        "41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5"),
    "manpages": (
        "6.03-2", "manpages_6.03-2_all.deb",
        "efa1ba4cd19ad7baeae959c9209a7eb74be2ebb858bcabb412597bfc9f588c91"),
}

# SHA-1 of each .deb, only to fetch it from snapshot.debian.org's /file/SHA1 endpoint when
# the mirror no longer carries the pinned version (e.g. after a security update).
SNAPSHOT_SHA1 = {
    "dict-foldoc": "b2bde1b5adbc41b7dad4f920c2a466b3477e792f",
    "dict-jargon": "e52cce28e509d3d8cd5f4ca32304be10b934e07a",
    "dict-gcide": "a731e5db951f4e5cc16d55bc42736be0768ba8c5",
    "dict-devil": "a8a9c37db98ef3407757afa53d95135c615af934",
    "sword-text-kjv": "f1243f951811f073842b0d67fec8cddd90b40f2f",
    "r-cran-janeaustenr": "0526a5841219e475fbbf6e2d3bcd96e6fb0f479d",
    "python3.11-doc": "924896f88455aa449baeae5c3268c4672b95c9b8",
    "fortunes": "fecdae7a5137a826a83e9d18b914d703856d7786",
    "manpages": "175c009a2b0fe1234bd93d8b98ceb6aa974a3170",
}

# Document sizes in words, and split blocks.
MIN_WORDS = 200
TARGET_WORDS = 300
MAX_WORDS = 400
BLOCK_DOCS = 25


# ----------------------------------------------------------------------------------------
# Packages


def sha256_file(path):
    """Return the hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(name, version, path):
    """Fetch one pinned .deb into path: apt-get download (3 tries), then snapshot.debian.org."""
    log = ""
    for attempt in range(3):
        r = subprocess.run(["apt-get", "download", f"{name}={version}"],
                           cwd=os.path.dirname(path), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode == 0 and os.path.exists(path):
            return
        log = r.stdout.strip()
        time.sleep(2 * (attempt + 1))
    url = f"https://snapshot.debian.org/file/{SNAPSHOT_SHA1[name]}"
    try:
        with urllib.request.urlopen(url, timeout=120) as resp, open(path, "wb") as f:
            shutil.copyfileobj(resp, f)
    except OSError as e:
        sys.exit(f"error: cannot fetch {name}={version}: apt-get download said: {log}; "
                 f"{url}: {e}. Download {os.path.basename(path)} by hand and pass --debs DIR.")


def fetch_packages(workdir, debs_dir=None):
    """Download (or reuse) every pinned .deb, verify its SHA-256 and unpack it.

    Returns a dict package name -> root directory of the unpacked package.
    """
    debdir = os.path.join(workdir, "debs")
    os.makedirs(debdir, exist_ok=True)
    roots = {}
    for name in sorted(PACKAGES):
        version, filename, digest = PACKAGES[name]
        path = os.path.join(debdir, filename)
        cached = os.path.join(debs_dir, filename) if debs_dir else None
        if cached and os.path.exists(cached):
            shutil.copyfile(cached, path)
        else:
            download(name, version, path)
        got = sha256_file(path)
        if got != digest:
            sys.exit(f"error: {filename}: SHA-256 {got} does not match the pinned {digest}")
        root = os.path.join(workdir, "pkg", name)
        os.makedirs(root)
        subprocess.run(["dpkg-deb", "-x", path, root], check=True)
        roots[name] = root
    return roots


# ----------------------------------------------------------------------------------------
# Text utilities

_ABBREV = {"mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g", "i.e", "cf", "no", "viz", "jr",
           "sr", "prof", "col", "gen", "capt", "lt", "rev", "esq", "fig", "vol", "ch", "pp"}
_SENT_END = re.compile(r"[.!?][\"'’”)\]]*$")


def normalize_ws(text):
    """Collapse all whitespace runs to single spaces and strip the ends.

    Terminal overstrikes (x BACKSPACE y, as in a few fortunes), other control characters
    and soft hyphens are removed first.
    """
    if "\b" in text:
        text = re.sub(r".\x08", "", text)
    text = re.sub(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\xad]", "", text)
    return " ".join(text.split())


def split_sentences(text):
    """Split whitespace-normalised text into sentences (a simple rule-based splitter)."""
    words = text.split(" ")
    out, cur = [], []
    for i, w in enumerate(words):
        cur.append(w)
        if not _SENT_END.search(w) or i + 1 == len(words):
            continue
        nxt = words[i + 1]
        stem = w.rstrip("\"'’”)]").rstrip(".!?").lower()
        if w.rstrip("\"'’”)]").endswith(".") and (stem in _ABBREV or
                                                   (len(stem) == 1 and stem.isalpha())):
            continue
        if nxt[:1].isupper() or nxt[:1] in "\"'‘“(":
            out.append(" ".join(cur))
            cur = []
    if cur:
        out.append(" ".join(cur))
    return out


def tidy_punctuation(text):
    """Remove punctuation left dangling where links were dropped ('see , , or .')."""
    out = []
    for w in re.sub(r"\(\s*\)", " ", text).split():
        if re.fullmatch(r"[,;.]+", w) and w != "...":
            if out and out[-1][-1] not in ",.;:!?(" and w in (",", ";", "."):
                out[-1] += w
            continue
        out.append(w)
    return " ".join(out)


def word_count(text):
    return len(text.split())


def chunk_units(units):
    """Group text units (entries, sentences) into documents of MIN_WORDS..MAX_WORDS words.

    Units are consumed in order; a document is closed when it reaches TARGET_WORDS or when
    the next unit would push it past MAX_WORDS. A unit longer than MAX_WORDS is split into
    sentences first, and a sentence longer than MAX_WORDS is cut between words. A trailing
    remainder shorter than MIN_WORDS is dropped.
    """
    flat = []
    for u in units:
        u = normalize_ws(u)
        if not u:
            continue
        n = word_count(u)
        if n <= MAX_WORDS:
            flat.append((u, n))
            continue
        for s in split_sentences(u):
            ws = s.split(" ")
            for k in range(0, len(ws), MAX_WORDS):
                piece = ws[k:k + MAX_WORDS]
                flat.append((" ".join(piece), len(piece)))
    docs, cur, n = [], [], 0
    for u, k in flat:
        if cur and n + k > MAX_WORDS:
            if n >= MIN_WORDS:
                docs.append(" ".join(cur))
            cur, n = [], 0
        cur.append(u)
        n += k
        if n >= TARGET_WORDS:
            docs.append(" ".join(cur))
            cur, n = [], 0
    if n >= MIN_WORDS:
        docs.append(" ".join(cur))
    return docs


def paragraphs_to_sentence_units(paragraphs):
    """Turn paragraphs into sentence units (so documents may end inside a paragraph)."""
    units = []
    for p in paragraphs:
        units.extend(split_sentences(normalize_ws(p)))
    return units


def letter_ratio(text):
    """Fraction of non-space characters that are letters."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0
    return sum(1 for c in chars if c.isalpha()) / len(chars)


# ----------------------------------------------------------------------------------------
# dictd (.index + .dict.dz)

def _cp1252_fallback(err):
    """Decode stray bytes of a mostly UTF-8 file as Windows-1252 (GCIDE has a few)."""
    bad = err.object[err.start:err.end]
    return bad.decode("cp1252", errors="replace"), err.end


codecs.register_error("cp1252-fallback", _cp1252_fallback)

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64num(s):
    n = 0
    for c in s:
        n = n * 64 + _B64.index(c)
    return n


def read_dictd(root, name):
    """Return the entries of a dictd database in file order, each once, metadata dropped."""
    base = os.path.join(root, "usr", "share", "dictd", name)
    with gzip.open(base + ".dict.dz") as f:
        data = f.read()
    spans = set()
    with open(base + ".index", encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0].startswith("00database") or \
                    parts[0].startswith("00-database"):
                continue
            spans.add((_b64num(parts[1]), _b64num(parts[2])))
    entries = [data[o:o + n].decode("utf-8", errors="cp1252-fallback") for o, n in sorted(spans)]
    return [e for e in entries if not e.lstrip().startswith(("00-database", "00database"))]


def is_prose_line(line):
    """False for lines of box-drawn tables, ASCII art and code (mostly non-letters)."""
    if re.search("[\u2500-\u257f]", line):
        return False
    return not line.strip() or letter_ratio(line) >= 0.5


def clean_foldoc(entry):
    """FOLDOC entry -> 'headword: definition' prose without dates, URLs and braces."""
    lines = entry.split("\n")
    head = lines[0].strip()
    body = [ln for ln in lines if ln.startswith("   ")]  # headword/aliases are unindented
    body = [ln for ln in body if is_prose_line(ln)]
    text = "\n".join(body)
    if text.lstrip().startswith("<introduction"):
        return ""  # entries about the dictionary itself
    text = re.sub(r"^\s*\(\d{4}-\d{2}-\d{2}\)\s*$", "", text, flags=re.M)
    text = re.sub(r"\{([^{}]*?)\s*\((?:https?|ftp|mailto|news):[^)]*\)\}", r"\1", text)
    text = re.sub(r"\((?:https?|ftp)://[^)\s]*\)", "", text)
    text = re.sub(r"(?:https?|ftp)://\S+", "", text)
    text = text.replace("{", "").replace("}", "")
    text = re.sub(r"<[a-z][a-z ,/-]*>", "", text)  # <category, ...> labels of senses
    text = tidy_punctuation(normalize_ws(text))
    return f"{head}: {text}" if text and head else text


def clean_jargon(entry):
    """Jargon File entry -> 'headword: definition' prose."""
    lines = entry.split("\n")
    head = lines[0].strip()
    body = []
    for ln in lines[1:]:
        s = ln.strip()
        if not body and (not s or s == "//" or re.fullmatch(r"[a-z. ,]+", s) or
                         s.startswith("/")):
            continue  # pronunciation and part-of-speech lines
        body.append(ln)
    body = [ln for ln in body if is_prose_line(ln)]
    text = "\n".join(body).replace("{", "").replace("}", "")
    text = re.sub(r"^\s*\[[^\]]*\]\s*", "", text.strip())  # leading [usage label]
    text = tidy_punctuation(normalize_ws(text))
    return f"{head}: {text}" if text else ""


def clean_devil(entry):
    """Devil's Dictionary entry: already prose; normalise whitespace."""
    return normalize_ws(entry)


def clean_gcide(entry):
    """GCIDE entry -> prose: drop pronunciations, etymologies, source tags and markup."""
    text = re.sub(r"\\[^\\\n]*\\", "", entry)  # \Pro*nun"ci*a*tion\
    # character codes inside words such as g[=o]s, l["o]g, Anserin[ae] become their letters
    code = r"\[[^\[\]\s]{1,5}\]"
    text = re.sub(rf"(?<=[A-Za-z]){code}|{code}(?=[A-Za-z])",
                  lambda m: re.sub(r"[^A-Za-z]", "", m.group(0)), text)
    text = re.sub(r"\s*\([^()\s]*[`*\"][^()\s]*\)", "", text)  # pronunciations (kom*mu"ni*ka*b'l)
    text = re.sub(r"(?<=[A-Za-z'])[*\"`]+(?=[A-Za-z'-])", "", text)  # syllables A*dul"ter*ate
    prev = None
    while prev != text:  # etymologies, [1913 Webster], [Obs.] (innermost first)
        prev = text
        text = re.sub(r"\[[^\[\]]*\]", "", text)
    text = text.replace("{", "").replace("}", "").replace("[", "").replace("]", "")
    text = re.sub(r"^\s*Syn:.*?(?=\n\s*\n|\Z)", "", text, flags=re.M | re.S)
    text = re.sub(r"\([^()A-Za-z]*\)", "", text)  # pronunciation leftovers such as (?; 110)
    text = re.sub(r"\s+([,;.])", r"\1", normalize_ws(text))
    return text


# ----------------------------------------------------------------------------------------
# SWORD zText module


def read_ztext_books(root, module):
    """Yield the text of each book of a SWORD zText module (BlockType=BOOK), markup stripped."""
    d = os.path.join(root, "usr", "share", "sword", "modules", "texts", "ztext", module)
    for testament in ("ot", "nt"):
        with open(os.path.join(d, testament + ".bzs"), "rb") as f:
            bzs = f.read()
        with open(os.path.join(d, testament + ".bzz"), "rb") as f:
            bzz = f.read()
        for i in range(len(bzs) // 12):
            off, size, _ = struct.unpack_from("<III", bzs, 12 * i)
            raw = zlib.decompress(bzz[off:off + size]).decode("utf-8")
            text = re.sub(r"<note\b.*?</note>", " ", raw, flags=re.S)
            text = re.sub(r"<title\b.*?</title>", " ", text, flags=re.S)
            text = re.sub(r"<[^>]*>", "", text)
            text = normalize_ws(html.unescape(text).replace("¶", " "))
            if word_count(text) > 100:
                yield text


# ----------------------------------------------------------------------------------------
# R serialization (lazy-load databases of R data packages)


class RVector(list):
    """An R vector or list: its elements, plus its attributes (e.g. `names`) in `attrs`."""

    attrs = None


class RReader:
    """Minimal reader of R's XDR serialization format (version 2 or 3).

    Enough for data packages: vectors, lists, attributes, symbols, pairlists, environments
    and ALTREP wrappers. Character vectors become lists of str (None for NA).

    Example:
        r = RReader(gzip.decompress(open("x.rds", "rb").read()))
        r.header()
        obj = r.item()
    """

    def __init__(self, data):
        self.b = data
        self.p = 0
        self.refs = []

    def int(self):
        v = struct.unpack_from(">i", self.b, self.p)[0]
        self.p += 4
        return v

    def header(self):
        if self.b[:2] != b"X\n":
            raise ValueError("not R XDR serialization")
        self.p = 2
        version = self.int()
        self.int()  # writer R version
        self.int()  # minimal reader R version
        if version == 3:
            n = self.int()
            self.p += n  # native encoding name

    def attributes(self):
        """Read an attribute pairlist into a dict tag -> value."""
        out = {}
        node = self.item()
        while isinstance(node, tuple) and node[0] == "pair":
            _, tag, car, cdr, _ = node
            out[tag] = car
            node = cdr
        return out

    def item(self):
        flags = self.int()
        t = flags & 0xFF
        levels = flags >> 12
        has_attr = flags & (1 << 9)
        has_tag = flags & (1 << 10)
        if t in (254, 253, 252, 251, 250, 242, 241):  # NULL and special environments
            return None
        if t == 255:  # REFSXP
            i = flags >> 8
            if i == 0:
                i = self.int()
            return self.refs[i - 1]
        if t in (249, 248):  # namespace / package reference: a STRSXP-like spec
            self.int()
            v = [self.item() for _ in range(self.int())]
            self.refs.append(v)
            return v
        if t == 1:  # SYMSXP
            v = self.item()
            self.refs.append(v)
            return v
        if t in (2, 3, 5, 6, 17, 239, 240):  # pairlists, closures, promises, calls
            attr = self.attributes() if has_attr else None
            tag = self.item() if has_tag else None
            car = self.item()
            cdr = self.item()
            return ("pair", tag, car, cdr, attr)
        if t == 4:  # ENVSXP
            self.int()  # locked
            env = {}
            self.refs.append(env)
            for _ in range(4):  # enclosure, frame, hash table, attributes
                self.item()
            return env
        if t == 9:  # CHARSXP
            n = self.int()
            if n == -1:
                return None
            s = self.b[self.p:self.p + n]
            self.p += n
            return s.decode("latin-1" if levels & 4 else "utf-8")
        if t in (10, 13, 14, 15, 16, 19, 20, 24):
            n = self.int()
            if n == -1:
                n = (self.int() << 32) + self.int()
            if t in (10, 13):
                v = RVector(struct.unpack_from(f">{n}i", self.b, self.p))
                self.p += 4 * n
            elif t == 14:
                v = RVector(struct.unpack_from(f">{n}d", self.b, self.p))
                self.p += 8 * n
            elif t == 15:
                v = RVector(struct.unpack_from(f">{2 * n}d", self.b, self.p))
                self.p += 16 * n
            elif t == 24:
                v = RVector(self.b[self.p:self.p + n])
                self.p += n
            else:
                v = RVector(self.item() for _ in range(n))
            if has_attr:
                v.attrs = self.attributes()
            return v
        if t == 238:  # ALTREP: class info, state, attributes
            self.item()
            state = self.item()
            self.item()
            return state
        raise ValueError(f"unsupported R SEXP type {t} at byte {self.p - 4}")


def read_r_lazyload(root, pkg):
    """Return {name: object} of an R package's lazy-load data database (data/Rdata.rd[bx]).

    The .rdx index is a gzip-compressed serialized list(variables, references, compressed)
    whose `variables` maps object names to (offset, length) in the .rdb; each .rdb chunk is a
    4-byte big-endian length followed by a zlib stream of one serialized object.
    """
    base = os.path.join(root, "usr", "lib", "R", "site-library", pkg, "data", "Rdata")
    with gzip.open(base + ".rdx") as f:
        r = RReader(f.read())
    r.header()
    index = r.item()
    variables = index[index.attrs["names"].index("variables")]
    compressed = index[index.attrs["names"].index("compressed")]
    if list(compressed) != [1]:
        raise ValueError(f"{base}.rdb: only zlib-compressed lazy-load databases are supported")
    with open(base + ".rdb", "rb") as f:
        rdb = f.read()
    out = {}
    for name, (off, length) in zip(variables.attrs["names"], variables):
        rr = RReader(zlib.decompress(rdb[off + 4:off + length]))
        rr.header()
        out[name] = rr.item()
    return out


# ----------------------------------------------------------------------------------------
# Sources


def units_austen(lines):
    """Novel lines -> sentence units, dropping title pages and chapter headings."""
    paras, cur = [], []
    started = False
    for ln in lines + [""]:
        ln = (ln or "").strip()
        if re.fullmatch(r"(CHAPTER|Chapter|VOLUME|Volume) [IVXLC\d]+\.?", ln) or \
                re.fullmatch(r"(CHAPTER|Chapter) [A-Z]+\.?", ln):
            started = True
            cur = []
            continue
        if not started:
            continue
        if ln:
            cur.append(ln)
        elif cur:
            paras.append(" ".join(cur).replace("_", ""))
            cur = []
    return paragraphs_to_sentence_units(paras)


_RST_DROP_DIRECTIVES = {
    "code-block", "sourcecode", "code", "literalinclude", "index", "toctree", "highlight",
    "productionlist", "raw", "testcode", "testsetup", "testcleanup", "testoutput", "doctest",
    "csv-table", "table", "list-table", "image", "figure", "only", "include", "tabularcolumns",
    "moduleauthor", "sectionauthor", "opcode", "cmdoption", "option", "envvar", "program",
    "audit-event", "availability", "impl-detail", "contents", "rubric", "digraph", "graphviz",
    "literal", "parsed-literal", "c:macro", "c:function", "c:type", "c:member", "c:var",
}


def rst_inline(text):
    """Strip inline reST markup: roles, literals, emphasis, references, substitutions."""
    text = re.sub(r":[\w:.+-]+:`!?~?([^`<]*?)\s*<[^`>]*>`", r"\1", text)
    text = re.sub(r":[\w:.+-]+:`!?~([^`]*)`", lambda m: m.group(1).split(".")[-1], text)
    text = re.sub(r":[\w:.+-]+:`!?([^`]*)`", r"\1", text)
    text = re.sub(r"``([^`]*)``", r"\1", text)
    text = re.sub(r"`([^`<]*?)\s*<[^`>]*>`__?", r"\1", text)
    text = re.sub(r"`([^`]*)`_{0,2}", r"\1", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\1", text)
    text = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"\1", text)
    text = re.sub(r"\|([\w -]+)\|_?", r"\1", text)
    text = re.sub(r"\[#\w*\]_|\[\d+\]_", "", text)
    text = text.replace("\\ ", "").replace("\\", "")
    return text


def rst_paragraphs(src):
    """reST source -> prose paragraphs (code, tables, directives' arguments dropped)."""
    lines = src.split("\n")
    paras = []
    cur = []
    skip_indent = None  # drop lines indented deeper than this (literal blocks, directives)

    def flush():
        if cur:
            paras.append(" ".join(s.strip() for s in cur))
        cur.clear()

    for ln in lines:
        stripped = ln.strip()
        indent = len(ln) - len(ln.lstrip(" "))
        if skip_indent is not None:
            if not stripped or indent > skip_indent:
                continue
            skip_indent = None
        if not stripped:
            flush()
            continue
        m = re.match(r"\.\.\s+([\w:-]+)::(.*)$", stripped)
        if m:
            flush()
            if m.group(1) in _RST_DROP_DIRECTIVES:
                skip_indent = indent
            continue
        if stripped.startswith(".."):  # comments, labels, link targets, footnotes
            flush()
            skip_indent = indent
            continue
        if re.fullmatch(r"([=\-~^\"'`#*+_.:])\1{2,}", stripped) or stripped.startswith("+-") \
                or re.fullmatch(r"[=\s]+", stripped):
            cur.clear()  # section title underline / table rule: drop title with it
            continue
        if stripped.startswith((">>>", "...", "$ ", "|")):
            flush()
            continue
        if re.match(r"[-*+] |\d+\. |#\. ", stripped):
            flush()
            stripped = re.sub(r"^([-*+]|\d+\.|#\.) ", "", stripped)
        cur.append(stripped)
        if stripped.endswith("::"):
            cur[-1] = stripped[:-2].rstrip() + (":" if stripped != "::" else "")
            flush()
            skip_indent = indent
    flush()
    out = []
    for p in paras:
        p = normalize_ws(rst_inline(p))
        if word_count(p) >= 8 and letter_ratio(p) > 0.7 and re.search(r"[.:?!]$", p):
            out.append(p)
    return out


_ROFF_ESC = [
    (r"\(em", "—"), (r"\(en", "–"), (r"\(aq", "'"), (r"\(dq", '"'), (r"\(lq", "“"),
    (r"\(rq", "”"), (r"\(oq", "‘"), (r"\(cq", "’"), (r"\(bu", ""), (r"\(co", "©"),
    (r"\(mu", "×"), (r"\(ti", "~"), (r"\(ha", "^"), (r"\(rs", "\\"), (r"\*(lq", "“"),
    (r"\*(rq", "”"), (r"\-", "-"), (r"\e", "\\"), (r"\&", ""), (r"\:", ""), (r"\%", ""),
    (r"\ ", " "), (r"\~", " "), (r"\^", ""), (r"\|", ""), (r"\c", ""), (r"\0", " "),
]


def roff_inline(s):
    """Strip roff font changes and translate common escapes."""
    s = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", s)
    s = re.sub(r"\\\*\[[^\]]*\]", "", s)
    s = re.sub(r"\\\[(\w+)\]", lambda m: {"em": "—", "en": "–", "aq": "'", "dq": '"',
                                          "lq": "“", "rq": "”"}.get(m.group(1), ""), s)
    for a, b in _ROFF_ESC:
        s = s.replace(a, b)
    s = re.sub(r"\\s[-+]?\d", "", s)
    return s


_MAN_SKIP_SECTIONS = {"NAME", "SYNOPSIS", "SEE ALSO", "COLOPHON", "EXAMPLES", "EXAMPLE",
                      "AUTHORS", "AUTHOR", "COPYRIGHT", "FILES", "ATTRIBUTES", "VERSIONS",
                      "OPTIONS", "REPORTING BUGS", "ENVIRONMENT"}


# generated API listings rather than prose
MAN_EXCLUDE = {"bpf-helpers.7.gz"}


def man_paragraphs(src):
    """roff man page -> prose paragraphs (code, tables, synopsis and option lists dropped)."""
    paras, cur = [], []
    skip_block = None
    section = ""

    def flush():
        if cur:
            paras.append(" ".join(cur))
        cur.clear()

    for ln in src.split("\n"):
        if skip_block:
            if ln.startswith(skip_block):
                skip_block = None
            continue
        if ln.startswith(".\\\"") or ln.startswith("'\\\"") or ln.startswith("\\\""):
            continue
        if ln.startswith((".", "'")):
            m = re.match(r"[.']\s*(\S+)\s*(.*)$", ln)
            if not m:
                continue
            mac, arg = m.group(1), m.group(2)
            if mac in ("SH", "SS"):
                flush()
                if mac == "SH":
                    section = roff_inline(arg).strip('"').upper()
                continue
            if mac in ("nf", "EX"):
                flush()
                skip_block = ".fi" if mac == "nf" else ".EE"
                continue
            if mac == "TS":
                flush()
                skip_block = ".TE"
                continue
            if mac in ("TP", "IP", "PP", "LP", "P", "sp", "br", "RS", "RE", "in", "HP", "TQ"):
                flush()
                continue
            if mac in ("B", "I", "SM", "SB", "BR", "RB", "IR", "RI", "BI", "IB"):
                args = re.findall(r'"[^"]*"|\S+', arg)
                args = [a.strip('"') for a in args]
                joiner = "" if len(mac) == 2 else " "
                if section not in _MAN_SKIP_SECTIONS:
                    cur.append(roff_inline(joiner.join(args)))
                continue
            if mac == "UR" or mac == "MT":
                continue
            continue  # any other request
        if section in _MAN_SKIP_SECTIONS:
            continue
        cur.append(roff_inline(ln))
    flush()
    out = []
    for p in paras:
        p = normalize_ws(p)
        if word_count(p) >= 12 and letter_ratio(p) > 0.75 and re.search(r"[.:?!]$", p):
            out.append(p)
    return out


def fortune_entries(src):
    """Fortune cookie file -> entries that read as prose (no ASCII art)."""
    out = []
    for e in re.split(r"\n%\n", src):
        lines = [ln for ln in e.split("\n") if ln.strip() != "%"]
        text = normalize_ws(" ".join(lines))
        text = re.sub(r"\\f[BIRP]", "", text)  # stray troff font escapes
        text = re.sub(r"\s*<[^<>\s]+@[^<>\s]+>", "", text)  # <message-id@host> citations
        if word_count(text) >= 4 and letter_ratio(text) > 0.75:
            out.append(text)
    return out


PKG_LICENSE = {
    "dict-foldoc": "GFDL-1.1+",
    "dict-jargon": "public-domain",
    "dict-gcide": "GPL-2+",
    "dict-devil": "public-domain",
    "sword-text-kjv": "public-domain",
    "r-cran-janeaustenr": "public-domain (texts); MIT (package)",
    "python3.11-doc": "PSF-2.0",
    "fortunes": "BSD-3-Clause (fortune-mod collection)",
    "manpages": "Linux-man-pages-copyleft and other free licenses (per page)",
}


def build_works(roots):
    """Return the list of works: dicts with domain, slug, package, title, cap and docs.

    Each work's documents are in reading order; `cap` is the word budget of the work.
    """
    works = []

    def add(domain, slug, pkg, title, cap, docs):
        works.append({"domain": domain, "slug": slug, "package": pkg, "title": title,
                      "cap": cap, "docs": docs})

    # computing
    r = roots["dict-foldoc"]
    add("computing", "foldoc", "dict-foldoc", "Free On-line Dictionary of Computing", 130000,
        chunk_units([clean_foldoc(e) for e in read_dictd(r, "foldoc")]))
    r = roots["dict-jargon"]
    add("computing", "jargon", "dict-jargon", "The Jargon File 4.4.7", 90000,
        chunk_units([clean_jargon(e) for e in read_dictd(r, "jargon")]))
    # lexicography
    r = roots["dict-devil"]
    add("lexicography", "devil", "dict-devil", "The Devil's Dictionary (Ambrose Bierce)",
        60000, chunk_units([clean_devil(e) for e in read_dictd(r, "devil")]))
    r = roots["dict-gcide"]
    add("lexicography", "gcide", "dict-gcide",
        "GNU Collaborative International Dictionary of English", 160000,
        chunk_units([t for t in map(clean_gcide, read_dictd(r, "gcide"))
                     if letter_ratio(t) > 0.7]))
    # religion
    docs = []
    for book in read_ztext_books(roots["sword-text-kjv"], "engKJV2006eb"):
        docs.extend(chunk_units(split_sentences(book)))
    add("religion", "kjv", "sword-text-kjv", "King James Version (1769 text)", 220000, docs)
    # fiction
    novels = read_r_lazyload(roots["r-cran-janeaustenr"], "janeaustenr")
    titles = {"emma": "Emma", "mansfieldpark": "Mansfield Park",
              "northangerabbey": "Northanger Abbey", "persuasion": "Persuasion",
              "prideprejudice": "Pride and Prejudice",
              "sensesensibility": "Sense and Sensibility"}
    for key in sorted(titles):
        add("fiction", "austen-" + key, "r-cran-janeaustenr",
            f"Jane Austen, {titles[key]}", 37000, chunk_units(units_austen(novels[key])))
    # software documentation
    base = os.path.join(roots["python3.11-doc"], "usr", "share", "doc", "python3.11", "html",
                        "_sources")
    docs = []
    for sub in ("tutorial", "reference", "howto", "faq", "library", "using"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(base, sub)):
            dirnames.sort()
            for fn in sorted(filenames):
                if not fn.endswith(".rst.txt"):
                    continue
                with open(os.path.join(dirpath, fn), encoding="utf-8") as f:
                    docs.extend(chunk_units(paragraphs_to_sentence_units(
                        rst_paragraphs(f.read()))))
    add("software", "python-docs", "python3.11-doc", "Python 3.11 documentation", 220000, docs)
    # reference (manual pages)
    base = os.path.join(roots["manpages"], "usr", "share", "man")
    docs = []
    for sec in ("man4", "man5", "man7"):
        d = os.path.join(base, sec)
        for fn in sorted(os.listdir(d)):
            path = os.path.join(d, fn)
            if not fn.endswith(".gz") or os.path.islink(path) or fn in MAN_EXCLUDE:
                continue
            with gzip.open(path) as f:
                src = f.read().decode("utf-8")
            if src.startswith(".so "):
                continue
            docs.extend(chunk_units(paragraphs_to_sentence_units(man_paragraphs(src))))
    add("reference", "manpages", "manpages", "Linux man-pages 6.03 (sections 4, 5, 7)",
        220000, docs)
    # quotations
    base = os.path.join(roots["fortunes"], "usr", "share", "games", "fortunes")
    files = [fn for fn in sorted(os.listdir(base))
             if "." not in fn and fn not in ("ascii-art", "translate-me")
             and not os.path.islink(os.path.join(base, fn))]
    docs = []
    for fn in files:
        with open(os.path.join(base, fn), encoding="utf-8") as f:
            docs.extend(chunk_units(fortune_entries(f.read())))
    add("quotations", "fortunes", "fortunes", "fortune-mod cookie files", 220000, docs)
    return works


# ----------------------------------------------------------------------------------------
# Selection, splits, output


def select_blocks(docs, cap):
    """Cut docs into blocks of BLOCK_DOCS and pick blocks spread evenly over the work.

    Returns a list of (block_number, [doc indices]) with total words close to cap.
    """
    blocks = [list(range(i, min(i + BLOCK_DOCS, len(docs))))
              for i in range(0, len(docs), BLOCK_DOCS)]
    total = sum(word_count(d) for d in docs)
    if total <= cap:
        return list(enumerate(blocks))
    mean = total / len(blocks)
    m = max(1, min(len(blocks), int(round(cap / mean))))
    picked = sorted({(i * len(blocks)) // m for i in range(m)})
    return [(b, blocks[b]) for b in picked]


def assign(works):
    """Return the records in output order, with splits assigned per domain by block."""
    records = []
    counters = {}
    for w in works:
        k = counters.get(w["domain"], 0)
        for b, idxs in select_blocks(w["docs"], w["cap"]):
            split = "valid" if k % 10 == 8 else "test" if k % 10 == 9 else "train"
            k += 1
            for i in idxs:
                version = PACKAGES[w["package"]][0]
                records.append({
                    "id": f"{w['domain']}-{w['slug']}-{i:05d}",
                    "domain": w["domain"],
                    "source": f"{w['package']} {version}",
                    "work": w["title"],
                    "license": PKG_LICENSE[w["package"]],
                    "split": split,
                    "text": w["docs"][i],
                })
        counters[w["domain"]] = k
    return records


def summarize(records):
    """Per-domain docs and words per split, as rows (domain, split, docs, words)."""
    table = {}
    for r in records:
        key = (r["domain"], r["split"])
        d, n = table.get(key, (0, 0))
        table[key] = (d + 1, n + word_count(r["text"]))
    return table


def build(out_path, debs_dir=None, quiet=False, write_sources=False):
    """Build the corpus into out_path atomically; return (sha_jsonl, sha_zst, records)."""
    with tempfile.TemporaryDirectory(prefix="lmtool-corpus-") as work:
        roots = fetch_packages(work, debs_dir)
        works = build_works(roots)
        records = assign(works)
        jsonl = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        jsonl = jsonl.encode("utf-8")
        sha_jsonl = hashlib.sha256(jsonl).hexdigest()
        z = subprocess.run(ZSTD_ARGS, input=jsonl, stdout=subprocess.PIPE, check=True).stdout
        sha_zst = hashlib.sha256(z).hexdigest()
        os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
        write_atomic(out_path, z)
        if write_sources:
            md = sources_md(works, records, sha_jsonl, sha_zst, len(jsonl), len(z))
            write_atomic(SOURCES_MD, md.encode("utf-8"))
    if not quiet:
        print_summary(records, sha_jsonl, sha_zst, len(jsonl), len(z))
    return sha_jsonl, sha_zst, records


def print_summary(records, sha_jsonl, sha_zst, n_jsonl, n_zst):
    table = summarize(records)
    domains = sorted({d for d, _ in table})
    print(f"{'domain':<14}{'docs':>7}{'words':>9}{'train':>9}{'valid':>8}{'test':>8}")
    for d in domains:
        docs = sum(table.get((d, s), (0, 0))[0] for s in ("train", "valid", "test"))
        words = [table.get((d, s), (0, 0))[1] for s in ("train", "valid", "test")]
        print(f"{d:<14}{docs:>7}{sum(words):>9}{words[0]:>9}{words[1]:>8}{words[2]:>8}")
    print(f"{len(records)} documents; JSONL {n_jsonl} bytes sha256 {sha_jsonl}")
    print(f"zstd {n_zst} bytes sha256 {sha_zst}")


def zstd_version():
    """Version line of the zstd CLI, e.g. 'v1.5.4'."""
    out = subprocess.run(["zstd", "--version"], stdout=subprocess.PIPE, text=True).stdout
    m = re.search(r"v\d+\.\d+\.\d+", out)
    return m.group(0) if m else out.strip()


PKG_NOTES = {
    "dict-foldoc": "FOLDOC, Copyright 1993 Denis Howe; GNU Free Documentation License 1.1 or "
                   "later, no invariant sections (debian/copyright).",
    "dict-jargon": "The Jargon File is in the public domain (debian/copyright).",
    "dict-gcide": "GCIDE (Webster's 1913 + WordNet + additions), GNU GPL version 2 or later.",
    "dict-devil": "Ambrose Bierce, The Devil's Dictionary (1911): public domain, copyright "
                  "expired.",
    "sword-text-kjv": "King James Version, module engKJV2006eb: PUBLIC DOMAIN (module .conf "
                      "DistributionLicense; debian/copyright).",
    "r-cran-janeaustenr": "Jane Austen's six novels (public domain texts from Project "
                          "Gutenberg); the R package is MIT licensed (Julia Silge).",
    "python3.11-doc": "Python documentation, PSF License Version 2 (debian/copyright).",
    "fortunes": "fortune-mod data files, BSD license of the University of California "
                "(debian/copyright); short quotations.",
    "manpages": "Linux man-pages project; per-page free licenses (mostly "
                "Linux-man-pages-copyleft, GPL, BSD/MIT-style) as listed in debian/copyright.",
}


def sources_md(works, records, sha_jsonl, sha_zst, n_jsonl, n_zst):
    """Render corpora/SOURCES.md from the build's figures."""
    table = summarize(records)
    used = {}
    for r in records:
        used.setdefault(r["work"], [0, 0])
        used[r["work"]][0] += 1
        used[r["work"]][1] += word_count(r["text"])
    lines = [
        "# Default corpus: sources and rebuild",
        "",
        "`corpora/default.jsonl.zst` is lmtool's default labelled multi-domain English "
        "corpus. It is built from Debian bookworm packages by "
        "`scripts/build_default_corpus.py`, which rebuilds it byte for byte. This file is "
        "written by that script; do not edit it by hand.",
        "",
        "## Rebuild",
        "",
        "```",
        "python3 scripts/build_default_corpus.py            # writes corpora/default.jsonl.zst "
        "and this file",
        "python3 scripts/build_default_corpus.py --check    # rebuilds in a temp dir, verifies "
        "the SHA-256 below",
        "python3 -m unittest discover -s scripts/corpus_build   # unit tests of the cleaners",
        "```",
        "",
        "Needs python3 (standard library only), `apt-get` with bookworm sources (the packages "
        "are downloaded with `apt-get download PKG=VERSION`, never installed; each .deb's "
        "SHA-256 is pinned in the script), `dpkg-deb`, and the `zstd` CLI. The output is "
        f"compressed with `{' '.join(ZSTD_ARGS[:-1])}` using zstd {zstd_version()}; another "
        "zstd version may compress differently (the decompressed JSONL is still identical).",
        "",
        f"- SHA-256 of the decompressed JSONL: `{sha_jsonl}` ({n_jsonl} bytes)",
        f"- SHA-256 of the .zst: `{sha_zst}` ({n_zst} bytes)",
        f"- {len(records)} documents",
        "",
        "## Format",
        "",
        "One JSON object per line, fields in this order: `id` (domain-work-index), `domain`, "
        "`source` (Debian package and version), `work`, `license`, `split` "
        "(train/valid/test), `text` (raw English, whitespace normalised to single spaces, "
        f"{MIN_WORDS}-{MAX_WORDS} words, cut at sentence or entry boundaries). A work is cut "
        f"into documents in reading order, documents into blocks of {BLOCK_DOCS} consecutive "
        "documents, and blocks are picked evenly spread over the work up to a word budget. "
        "Within a domain, of every 10 consecutive picked blocks 8 are train, the 9th valid "
        "and the 10th test, so neighbouring text never crosses splits.",
        "",
        "## Words and documents per domain",
        "",
        "| domain | docs | words | train docs | valid docs | test docs | train words | "
        "valid words | test words |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for d in sorted({d for d, _ in table}):
        c = [table.get((d, sp), (0, 0)) for sp in ("train", "valid", "test")]
        lines.append(f"| {d} | {sum(x[0] for x in c)} | {sum(x[1] for x in c)} | "
                     f"{c[0][0]} | {c[1][0]} | {c[2][0]} | {c[0][1]} | {c[1][1]} | {c[2][1]} |")
    lines += ["", "## Packages and works", "",
              "| domain | package | version | license | work | docs used | words used |",
              "| --- | --- | --- | --- | --- | ---: | ---: |"]
    for w in works:
        version = PACKAGES[w["package"]][0]
        n_docs, n_words = used.get(w["title"], [0, 0])
        lines.append(f"| {w['domain']} | {w['package']} | {version} | "
                     f"{PKG_LICENSE[w['package']]} | {w['title']} | {n_docs} | {n_words} |")
    lines += ["", "## Licenses (from each package's /usr/share/doc/PKG/copyright)", ""]
    for name in sorted(PACKAGES):
        version, filename, digest = PACKAGES[name]
        lines.append(f"- **{name}** {version} (`{filename}`, SHA-256 `{digest}`): "
                     f"{PKG_NOTES[name]}")
    lines += ["", "## Cleaning", "",
              "- dictd dictionaries (FOLDOC, Jargon, GCIDE, Devil): entries read in file order "
              "through the `.index` offsets; headword lines, `{cross reference}` braces, "
              "sense labels, dates, URLs, GCIDE pronunciations, etymologies, source tags "
              "(`[1913 Webster]`) and character codes removed; database metadata entries "
              "dropped.",
              "- SWORD zText (KJV): zlib blocks per book via `.bzs`; OSIS tags stripped, "
              "footnotes and headings dropped.",
              "- janeaustenr: R lazy-load database (`data/Rdata.rdb/.rdx`) decoded by a small "
              "reader of R's XDR serialization; title pages and chapter headings dropped.",
              "- Python docs: Sphinx `_sources/*.rst.txt` of tutorial, reference, howto, faq, "
              "library and using; code blocks, directives' arguments, tables, comments and "
              "titles dropped; inline roles and literals reduced to their text.",
              "- man pages (sections 4, 5, 7; `bpf-helpers.7` excluded): roff requests and "
              "escapes stripped; NAME, SYNOPSIS, OPTIONS, EXAMPLES, SEE ALSO, "
              "COLOPHON and similar sections, code and tables dropped.",
              "- fortunes: `%`-separated entries; `ascii-art` and `translate-me` skipped, "
              "entries that are mostly non-letters dropped.",
              "- Paragraphs keep only prose-like text (mostly letters, ending in punctuation); "
              "control characters, overstrikes and soft hyphens removed.", ""]
    return "\n".join(lines)


def write_atomic(path, data):
    """Write bytes to path via a temporary file in the same directory and a rename."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def recorded_hashes():
    """Read the two SHA-256 values recorded in corpora/SOURCES.md."""
    with open(SOURCES_MD, encoding="utf-8") as f:
        text = f.read()
    a = re.search(r"SHA-256 of the decompressed JSONL: `([0-9a-f]{64})`", text)
    b = re.search(r"SHA-256 of the \.zst: `([0-9a-f]{64})`", text)
    if not a or not b:
        sys.exit(f"error: {SOURCES_MD}: recorded SHA-256 values not found")
    return a.group(1), b.group(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true",
                    help="rebuild into a temp dir and verify the SHA-256 in SOURCES.md")
    ap.add_argument("--debs", help="directory with already downloaded .deb files")
    args = ap.parse_args()
    start = time.time()
    if args.check:
        want_jsonl, want_zst = recorded_hashes()
        with tempfile.TemporaryDirectory(prefix="lmtool-check-") as d:
            got_jsonl, got_zst, _ = build(os.path.join(d, "default.jsonl.zst"), args.debs)
        ok = True
        if got_jsonl != want_jsonl:
            print(f"error: decompressed JSONL SHA-256 {got_jsonl} != recorded {want_jsonl} "
                  f"({SOURCES_MD})", file=sys.stderr)
            ok = False
        if got_zst != want_zst:
            print(f"error: .zst SHA-256 {got_zst} != recorded {want_zst} ({SOURCES_MD})",
                  file=sys.stderr)
            ok = False
        if os.path.exists(DEFAULT_OUT) and sha256_file(DEFAULT_OUT) != want_zst:
            print(f"error: {DEFAULT_OUT}: SHA-256 {sha256_file(DEFAULT_OUT)} != recorded "
                  f"{want_zst} ({SOURCES_MD})", file=sys.stderr)
            ok = False
        if got_jsonl == want_jsonl and got_zst != want_zst:
            print(f"note: the JSONL matches; the .zst differs, so this zstd ({zstd_version()})"
                  " compresses differently from the one recorded in SOURCES.md",
                  file=sys.stderr)
        if not ok:
            sys.exit(1)
        print(f"check OK: rebuilt corpus matches {SOURCES_MD} ({time.time() - start:.1f} s)")
    else:
        write_sources = os.path.abspath(args.out) == DEFAULT_OUT
        build(args.out, args.debs, write_sources=write_sources)
        if write_sources:
            print(f"wrote {SOURCES_MD}")
        print(f"wrote {args.out} ({time.time() - start:.1f} s)")


if __name__ == "__main__":
    main()
