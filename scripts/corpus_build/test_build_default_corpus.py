"""Unit tests of the helpers of scripts/build_default_corpus.py (standard library only).

Run: python3 -m unittest discover -s scripts/corpus_build -v
Expected values are written out by hand from the input, not computed by the code under test.
"""

import gzip
import os
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import build_default_corpus as b  # noqa: E402


def words(n, tag="w"):
    return " ".join(f"{tag}{i}" for i in range(n))


class TextTests(unittest.TestCase):
    def test_normalize_ws_removes_overstrikes_and_controls(self):
        self.assertEqual(b.normalize_ws("  a_\bb \t c\x07d\xade\n\nf "), "ab cde f")

    def test_split_sentences_keeps_abbreviations(self):
        text = "Mr. Smith went home, e.g. by bus. He slept! Did he? \"Yes.\" Then (a) x."
        self.assertEqual(b.split_sentences(text), [
            "Mr. Smith went home, e.g. by bus.", "He slept!", "Did he?", "\"Yes.\"",
            "Then (a) x."])

    def test_split_sentences_needs_capital_after_stop(self):
        self.assertEqual(b.split_sentences("See fig. 3 and p. 4. Done."),
                         ["See fig. 3 and p. 4.", "Done."])

    def test_chunk_units_groups_to_target_and_drops_short_tail(self):
        units = [words(150, f"u{k}_") for k in range(5)]
        docs = b.chunk_units(units)
        self.assertEqual([len(d.split()) for d in docs], [300, 300])
        self.assertTrue(docs[0].startswith("u0_0 ") and docs[1].startswith("u2_0 "))

    def test_chunk_units_cuts_overlong_units(self):
        docs = b.chunk_units([words(900)])
        self.assertEqual([len(d.split()) for d in docs], [400, 400])
        self.assertEqual(docs[1].split()[0], "w400")

    def test_chunk_units_never_exceeds_max(self):
        docs = b.chunk_units([words(120), words(190), words(250), words(10)])
        # 120 + 190 = 310 reaches the target; 250 + 10 = 260 is a long enough tail.
        self.assertEqual([len(d.split()) for d in docs], [310, 260])

    def test_tidy_punctuation(self):
        self.assertEqual(b.tidy_punctuation("gcc -Wall. , . Usenet"), "gcc -Wall. Usenet")
        self.assertEqual(b.tidy_punctuation("try , , , or this"), "try, or this")
        self.assertEqual(b.tidy_punctuation("see (). Next ... end"), "see. Next ... end")

    def test_is_prose_line(self):
        self.assertTrue(b.is_prose_line("   The character with ASCII code 33."))
        self.assertTrue(b.is_prose_line("   "))
        self.assertFalse(b.is_prose_line("   (__) (__) /-------\\/ ||----||"))
        self.assertFalse(b.is_prose_line("   │4 │nybble│"))

    def test_letter_ratio(self):
        self.assertAlmostEqual(b.letter_ratio("ab 1!"), 0.5)
        self.assertEqual(b.letter_ratio("   "), 0.0)


class DictdTests(unittest.TestCase):
    def test_b64_offsets(self):
        # G=6 b=27 9=61 L=11: ((6*64+27)*64+61)*64+11
        self.assertEqual(b._b64num("Gb9L"), 1687371)
        self.assertEqual(b._b64num("K5"), 10 * 64 + 57)

    def test_read_dictd_orders_by_offset_and_skips_metadata(self):
        data = b"00-database-info\nabout\nBeta entry\nAlpha entry\n"
        with tempfile.TemporaryDirectory() as root:
            d = os.path.join(root, "usr", "share", "dictd")
            os.makedirs(d)
            with gzip.open(os.path.join(d, "t.dict.dz"), "wb") as f:
                f.write(data)
            # offsets: metadata 0+23, "Beta entry\n" 23+11, "Alpha entry\n" 34+12
            with open(os.path.join(d, "t.index"), "w", encoding="utf-8") as f:
                f.write("00-database-info\tA\tX\nalpha\ti\tM\nbeta\tX\tL\nbeta2\tX\tL\n")
            self.assertEqual(b.read_dictd(root, "t"), ["Beta entry\n", "Alpha entry\n"])

    def test_clean_gcide(self):
        entry = ("Ceres \\Ce\"res\\, n. [L., Ceres, also corn, grain, akin to E.\n"
                 "   create.]\n   1. (Class. Myth.) The daughter of Saturn; g[=o]s.\n"
                 "      [1913 Webster]\n")
        self.assertEqual(b.clean_gcide(entry),
                         "Ceres, n. 1. (Class. Myth.) The daughter of Saturn; gos.")

    def test_clean_foldoc(self):
        entry = ("FL\n\n   <language> Function Level.\n\n   Successor to {FP} {(http://x.org/)}."
                 "\n\n   (1994-10-20)\n\n")
        self.assertEqual(b.clean_foldoc(entry), "FL: Function Level. Successor to FP.")

    def test_clean_jargon(self):
        entry = "hidden flag\n n.\n\n    [scientific computation] An extra {option}.\n"
        self.assertEqual(b.clean_jargon(entry), "hidden flag: An extra option.")

    def test_clean_jargon_drops_box_drawn_tables(self):
        entry = ("nybble\n\n    Half a byte:\n    ┌──┬──┐\n    │4 │ab│\n    └──┴──┘\n"
                 "    See also crumb.\n")
        self.assertEqual(b.clean_jargon(entry), "nybble: Half a byte: See also crumb.")


class MarkupTests(unittest.TestCase):
    def test_rst_paragraphs(self):
        src = (".. _label:\n\nTitle\n=====\n\nThe :keyword:`for` statement loops over\n"
               "``items`` of a :class:`~collections.OrderedDict` in order. For example::\n\n"
               "   for x in y:\n       pass\n\n.. index:: statement: for\n\n"
               ".. function:: f(x)\n\n   Return *x* doubled, which is always an integer "
               "here, see `docs <http://a>`_.\n\n"
               ">>> f(2)\n4\n")
        self.assertEqual(b.rst_paragraphs(src), [
            "The for statement loops over items of a OrderedDict in order. For example:",
            "Return x doubled, which is always an integer here, see docs."])

    def test_man_paragraphs(self):
        src = (".\\\" comment\n.TH X 7\n.SH NAME\nx \\- does things\n.SH DESCRIPTION\n"
               "The\n.B x\nfacility does \\fIall\\fP the things a user may ever want\n"
               "with\n.BR y (2)\nand more\\(emreally.\n.PP\n.nf\nint main(void);\n.fi\n"
               ".SH SEE ALSO\n.BR z (1)\n")
        self.assertEqual(b.man_paragraphs(src), [
            "The x facility does all the things a user may ever want with y(2) and "
            "more—really."])

    def test_fortune_entries(self):
        src = ("A short saying that\nspans lines.\n\t-- Someone\n%\n+--+\n|##|\n+--+\n%\n"
               "Two words\n%\nThink of it \\fBtwice\\fP.\n\t-- Larry Wall in <1997.AA@wall.org>\n")
        self.assertEqual(b.fortune_entries(src),
                         ["A short saying that spans lines. -- Someone",
                          "Think of it twice. -- Larry Wall in"])


def xdr_int(*vals):
    return b"".join(struct.pack(">i", v) for v in vals)


def charsxp(s):
    raw = s.encode("utf-8")
    return xdr_int(9 | (8 << 12), len(raw)) + raw


class RTests(unittest.TestCase):
    HEADER = b"X\n" + xdr_int(3, 0x40200, 0x30500, 5) + b"UTF-8"

    def test_character_vector_with_na(self):
        data = self.HEADER + xdr_int(16, 3) + charsxp("hé") + xdr_int(9, -1) + charsxp("")
        r = b.RReader(data)
        r.header()
        self.assertEqual(list(r.item()), ["hé", None, ""])

    def test_named_list(self):
        data = (self.HEADER + xdr_int(19 | (1 << 9), 1) + xdr_int(13, 2, 5, -7) +
                xdr_int(2 | (1 << 10), 1) + charsxp("names") + xdr_int(16, 1) + charsxp("a") +
                xdr_int(254))
        r = b.RReader(data)
        r.header()
        v = r.item()
        self.assertEqual([list(x) for x in v], [[5, -7]])
        self.assertEqual(v.attrs, {"names": ["a"]})


class SplitTests(unittest.TestCase):
    def test_select_blocks_spreads_over_work(self):
        docs = [words(300)] * 250  # 10 blocks of 25 docs, 7500 words each
        picked = b.select_blocks(docs, 30000)  # 4 blocks
        self.assertEqual([blk for blk, _ in picked], [0, 2, 5, 7])
        self.assertEqual(picked[1][1], list(range(50, 75)))

    def test_assign_splits_eight_one_one_per_domain(self):
        b.PACKAGES.setdefault("test-pkg", ("1.0", "x.deb", "0" * 64))
        b.PKG_LICENSE.setdefault("test-pkg", "public-domain")
        works = [{"domain": "d", "slug": "s", "package": "test-pkg", "title": "T",
                  "cap": 10 ** 9, "docs": [f"doc {i}" for i in range(25 * 12)]}]
        recs = b.assign(works)
        splits = [recs[25 * k]["split"] for k in range(12)]
        self.assertEqual(splits, ["train"] * 8 + ["valid", "test"] + ["train"] * 2)
        self.assertEqual(list(recs[0]), ["id", "domain", "source", "work", "license", "split",
                                         "text"])
        self.assertEqual(recs[26]["id"], "d-s-00026")
        self.assertEqual(recs[0]["source"], "test-pkg 1.0")


if __name__ == "__main__":
    unittest.main()
