"""`transcriber.redact`: PII in transcript turns (a table of zh/en cases) and in the recording itself."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from callqa.transcripts import Redaction, Turn, Word
from transcriber.redact import Redactor, redact_audio

STEP_MS = 300  # word i spans [i * STEP_MS, i * STEP_MS + WORD_MS]
WORD_MS = 280

# --- numbers built here, so that the checksums in the table are computed, not copied ----------


def luhn_complete(body: str) -> str:
    """`body` + the digit that makes it pass the Luhn check."""
    for check in "0123456789":
        total = 0
        for i, ch in enumerate(reversed(body + check)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return body + check
    raise AssertionError("unreachable")


def luhn_ok(number: str) -> bool:
    return luhn_complete(number[:-1]) == number


def id_check(first17: str) -> str:
    weights = [2 ** (17 - i) % 11 for i in range(17)]  # GB 11643: W_i = 2^(i-1) mod 11, right to left
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


ID = "11010519491231002" + id_check("11010519491231002")
ID_X = next(s + id_check(s) for n in range(1000) if id_check(s := f"44030519880315{n:03d}") == "X")
ID_BAD = next(ID[:17] + d for d in "0123456789" if d != ID[17] and not luhn_ok(ID[:17] + d))
ID15 = next(f"11010549123100{d}" for d in "0123456789" if not luhn_ok(f"11010549123100{d}"))  # no checksum
CARD19 = luhn_complete("622202123456789012")
CARD16 = luhn_complete("411111111111111")
CARD_BAD = CARD16[:-1] + str((int(CARD16[-1]) + 1) % 10)
ORDER_NO = luhn_complete("202401151234567")  # Luhn-valid on purpose: the context says it is an order
CN = dict(zip("0123456789X", "零一二三四五六七八九X", strict=True))


def zh(digits: str) -> str:
    return "".join(CN[d] for d in digits)


def test_generated_numbers_are_what_the_table_needs() -> None:
    assert ID_X.endswith("X") and ID != ID_BAD and not luhn_ok(ID_BAD)
    assert luhn_ok(CARD19) and luhn_ok(CARD16) and not luhn_ok(CARD_BAD) and len(CARD19) == 19


# --- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    language: str
    words: list[str]
    text: str  # the redacted text expected
    found: list[tuple[str, int, int]]  # (kind, first word, last word) of each redaction, in order


def case(case_id: str, words: str, text: str, *found: str) -> Case:
    """`words` are '|'-separated (English ones carry Whisper's leading space); `found`: 'kind first-last'."""
    spans = [
        (kind, int(a), int(b)) for kind, _, rest in (f.partition(" ") for f in found) for a, b in [rest.split("-")]
    ]
    return Case(case_id, case_id[:2], words.split("|"), text, spans)


def grouped(digits: str, size: int = 4) -> str:
    return "|".join(f" {digits[i : i + size]}" for i in range(0, len(digits), size))


CASES = [
    # Chinese: phones
    case("zh-mobile", "我的|手机号|是|13800138000|。", "我的手机号是[PHONE]。", "phone 3-3"),
    case("zh-mobile-split-words", "号码|是|138|0013|8000|，|谢谢", "号码是[PHONE]，谢谢", "phone 2-4"),
    case("zh-numerals", "电话|一三八|零零|一三八|零零零|好的", "电话[PHONE]好的", "phone 1-4"),
    case("zh-yao-with-commas", "幺三八|，|零零幺三|，|八零零零|。", "[PHONE]。", "phone 0-4"),
    case("zh-one-char-per-word", "|".join("我的电话是一三九一二三四五六七八"), "我的电话是[PHONE]", "phone 5-15"),
    case("zh-numerals-then-yixia", "一三八零零一三八零零零一下", "[PHONE]一下", "phone 0-0"),
    case("zh-liang-and-filler", "幺三九|两两|嗯|八八六六|五五|对吧", "[PHONE]对吧", "phone 0-4"),
    case("zh-landline-dashes", "座机|010|-|5555|-|1234", "座机[PHONE]", "phone 1-5"),
    case("zh-landline-spaces", "电话|0755| 8888| 6666|转|3", "电话[PHONE]转3", "phone 1-3"),
    case("zh-plus86", "+86| 138| 0013| 8000", "[PHONE]", "phone 0-3"),
    case("zh-two-phones", "手机|13800138000|，|座机|010-5555-1234", "手机[PHONE]，座机[PHONE]",
         "phone 1-1", "phone 4-4"),
    # Chinese: resident ID numbers
    case("zh-id", f"身份证号|是|{ID}|。", "身份证号是[ID_NUMBER]。", "id_number 2-2"),
    case("zh-id-x-split", f"身份证|{ID_X[:6]}|{ID_X[6:14]}|{ID_X[14:]}", "身份证[ID_NUMBER]", "id_number 1-3"),
    case("zh-id-spoken", f"身份证|{zh(ID[:6])}|{zh(ID[6:14])}|{zh(ID[14:])}", "身份证[ID_NUMBER]", "id_number 1-3"),
    case("zh-id-bad-checksum-spoken", f"身份证|{zh(ID_BAD)}", f"身份证{zh(ID_BAD)}"),  # holds 19491231002
    case("zh-id-legacy-15", f"旧身份证|{ID15}", "旧身份证[ID_NUMBER]", "id_number 1-1"),
    case("zh-id-bad-checksum", f"身份证号|是|{ID_BAD}", f"身份证号是{ID_BAD}"),
    # Chinese: bank cards
    case("zh-card-groups", f"卡号|{grouped(CARD19)}", "卡号 [BANK_CARD]", "bank_card 1-5"),
    case("zh-card-spoken", f"卡号是|{zh(CARD16[:8])}|{zh(CARD16[8:])}", "卡号是[BANK_CARD]", "bank_card 1-2"),
    case("zh-card-luhn-invalid", f"卡号|{CARD_BAD}", f"卡号{CARD_BAD}"),
    case("zh-order-number", f"订单号|{ORDER_NO}|已|发货", f"订单号{ORDER_NO}已发货"),
    # Chinese: ordinary numbers stay
    case("zh-price-quantity", "这个|套餐|299|元|，|一共|3|件", "这个套餐299元，一共3件"),
    case("zh-date-time", "2024年|1月|15日|下午|3点|半|，|2024-01-15| 10:30",
         "2024年1月15日下午3点半，2024-01-15 10:30"),
    case("zh-ordinal-words", "第三个|问题|，|一一|说明|，|一二三|都|可以", "第三个问题，一一说明，一二三都可以"),
    case("zh-codes-and-extensions", "验证码|是|384756|，|工号|12345|，|分机|8001",
         "验证码是384756，工号12345，分机8001"),
    case("zh-birth-date-numerals", "一九九零年|三月|五号|出生", "一九九零年三月五号出生"),
    case("zh-two-numbers-one-run", "13800138000| 13900139000", "[PHONE] [PHONE]", "phone 0-0", "phone 1-1"),
    case("zh-amount-thousands", "订单|金额|1,299,000|元", "订单金额1,299,000元"),
    # Chinese: e-mail and a configured pattern
    case("zh-email-written", "邮箱|是|zhang.san@163.com|。", "邮箱是[EMAIL]。", "email 2-2"),
    case("zh-email-aite", "邮箱|zhangsan|艾特|qq|点|com", "邮箱[EMAIL]", "email 1-5"),
    case("zh-email-qq-numerals", "是|一二三四五六七|艾特|qq|.com", "是[EMAIL]", "email 1-4"),
    case("zh-configured", "订单号|ORD-12345678|已|发货", "订单号[ORDER_ID]已发货", "order_id 1-1"),
    # English: phones
    case("en-spoken-digits", " it's| one| three| eight| oh| oh| one| three| eight| oh| oh| oh", "it's [PHONE]",
         "phone 1-11"),
    case("en-double", " My| number| is| five| five| five,| double| two| three,| four| five| six| seven.",
         "My number is [PHONE].", "phone 3-12"),
    case("en-triple", " triple| seven| two| double| five| three| four| five| six", "[PHONE]", "phone 0-8"),
    case("en-us-written", " Call| (555)| 123-4567| please.", "Call [PHONE] please.", "phone 1-2"),
    case("en-plus1", " Reach| me| on| +1| 415| 555| 0132", "Reach me on [PHONE]", "phone 3-6"),
    case("en-toll-free-words", " one| eight| hundred| five| five| five| one| two| one| two", "[PHONE]", "phone 0-9"),
    case("en-interjection-oh", " Oh,| 415-555-0132| is| mine", "Oh, [PHONE] is mine", "phone 1-1"),
    case("en-uk", " +44| 20| 7946| 0958", "[PHONE]", "phone 0-3"),
    case("en-mixed-digits-words", " 138| double| oh| one| three| eight| thousand", "[PHONE]", "phone 0-6"),
    # English: card, e-mail, ordinary numbers
    case("en-card", f" card|{grouped(CARD16)}", "card [BANK_CARD]", "bank_card 1-4"),
    case("en-card-luhn-invalid", f" card| {CARD_BAD}", f"card {CARD_BAD}"),
    case("en-email-spoken", " my| email| is| john| dot| smith| at| example| dot| com| thanks",
         "my email is [EMAIL] thanks", "email 3-9"),
    case("en-email-spelled", " it's| j| o| h| n| at| gmail| dot| com", "it's [EMAIL]", "email 1-8"),
    case("en-email-written", " write| to| john.smith@example.com.| Thanks", "write to [EMAIL]. Thanks", "email 2-2"),
    case("en-price-date-time", " It| cost| $1,299.50| on| 2024-01-15| at| 13:00.",
         "It cost $1,299.50 on 2024-01-15 at 13:00."),
    case("en-quantities", " I| ordered| 3| items,| 25| dollars| each,| on| March| 3rd.",
         "I ordered 3 items, 25 dollars each, on March 3rd."),
    case("en-at-is-not-email", " call| me| at| nine| or| meet| at| the| office.",
         "call me at nine or meet at the office."),
    case("en-years", " in| 2019,| 2020,| 2021| and| 2022", "in 2019, 2020, 2021 and 2022"),
    case("en-big-amount", " revenue| was| 2,999,000,000| dollars", "revenue was 2,999,000,000 dollars"),
    case("en-order-number", " my| order| number| is| 2345678901", "my order number is 2345678901"),
]  # fmt: skip


def make_turn(words: list[str], turn_id: str = "t0") -> Turn:
    timed = [
        Word(text=w, begin_ms=i * STEP_MS, end_ms=i * STEP_MS + WORD_MS, probability=0.9) for i, w in enumerate(words)
    ]
    return Turn(id=turn_id, role="customer", begin_ms=0, end_ms=len(words) * STEP_MS, text="".join(words).strip(),
                words=timed)  # fmt: skip


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor({"order_id": r"ORD-\d{8}"})


def test_table_is_large_and_mixed() -> None:
    assert len(CASES) >= 30
    assert {c.language for c in CASES} == {"zh", "en"}
    assert sum(not c.found for c in CASES) >= 10  # precision cases, not only recall ones


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(redactor: Redactor, case: Case) -> None:
    turn = make_turn(case.words)
    (new,), redactions = redactor.redact_turns([turn], case.language)
    assert new.text == case.text
    assert [(r.kind, r.begin_ms, r.end_ms) for r in redactions] == [
        (kind, first * STEP_MS, last * STEP_MS + WORD_MS) for kind, first, last in case.found
    ]
    for r in redactions:  # the offsets locate the placeholder; the audio span is the carrying words'
        assert r.turn_id == "t0"
        assert new.text[r.char_start : r.char_end] == Redactor.placeholder(r.kind)
        assert any(w.begin_ms == r.begin_ms and w.end_ms == r.end_ms and "[" in w.text for w in new.words)
    assert "".join(w.text for w in new.words).strip() == new.text  # words and text agree
    assert turn.text == "".join(case.words).strip()  # the input is not modified


def test_words_keep_timings_outside_redactions(redactor: Redactor) -> None:
    turn = make_turn(["号码", "是", "138", "0013", "8000", "，", "谢谢"])
    (new,), _ = redactor.redact_turns([turn], "zh")
    assert [(w.text, w.begin_ms, w.end_ms) for w in new.words] == [
        ("号码", 0, 280),
        ("是", 300, 580),
        ("[PHONE]", 600, 1480),
        ("，", 1500, 1780),
        ("谢谢", 1800, 2080),
    ]


def test_text_that_differs_from_its_words_is_rebuilt_from_them(redactor: Redactor) -> None:
    turn = make_turn(["电话", "13800138000"]).model_copy(update={"text": "電話13800138000"})
    (new,), (r,) = redactor.redact_turns([turn], "zh")
    assert new.text == "电话[PHONE]" and (r.begin_ms, r.end_ms) == (300, 580)


def test_turn_without_words_uses_the_turn_span(redactor: Redactor) -> None:
    turn = Turn(id="t7", role="agent", begin_ms=5000, end_ms=9000, text="您的号码是13800138000吗？")
    (new,), (r,) = redactor.redact_turns([turn], "zh")
    assert new.text == "您的号码是[PHONE]吗？"
    assert (r.turn_id, r.begin_ms, r.end_ms, r.char_start, r.char_end) == ("t7", 5000, 9000, 5, 12)


def test_several_turns_and_offsets(redactor: Redactor) -> None:
    turns = [make_turn(["邮箱", "a@b.cn", "，", "电话", "13800138000"], "t0"), make_turn(["好的"], "t1")]
    new, redactions = redactor.redact_turns(turns, "zh")
    assert [t.text for t in new] == ["邮箱[EMAIL]，电话[PHONE]", "好的"]
    assert [(r.kind, r.char_start, r.char_end) for r in redactions] == [("email", 2, 9), ("phone", 12, 19)]


def test_configured_pattern_sees_chinese_numerals() -> None:
    (new,), (r,) = Redactor({"member": r"会员号\d{6}"}).redact_turns([make_turn(["会员号", "一二三四五六"])], "zh")
    assert new.text == "[MEMBER]" and r.kind == "member"


@pytest.mark.parametrize(
    "patterns",
    [{"bad": "ORD-(\\d{8}"}, {"bad": "ORD-(?=\\d{8})"}, {"bad name": "x"}, {"phone": "\\d+"}],
    ids=["regex", "lookahead (not RE2)", "name", "builtin"],
)
def test_invalid_configuration_fails_at_construction(patterns: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"bad|phone"):
        Redactor(patterns)


def test_a_pathological_configured_pattern_cannot_stall_the_worker() -> None:
    """(a+)+$ backtracks exponentially in Python's re on a long run of a's that does not end the turn;
    RE2 answers in linear time."""
    redactor = Redactor({"runaway": "(a+)+$"})
    started = time.perf_counter()
    (new,), _ = redactor.redact_turns([make_turn(["a" * 5000 + "!"])], "en")
    assert time.perf_counter() - started < 2.0
    assert new.text == "a" * 5000 + "!"


# --- audio -----------------------------------------------------------------------------------

RATE = 16000
needs_tools = pytest.mark.skipif(not (shutil.which("sox") and shutil.which("ffmpeg")), reason="sox and ffmpeg")


def read_wav(path: Path) -> tuple[np.ndarray, int, int]:
    with wave.open(str(path)) as w:
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
        return frames.reshape(-1, w.getnchannels()), w.getnchannels(), w.getframerate()


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


@pytest.fixture
def stereo(tmp_path: Path) -> Path:
    """3 s, a different tone on each channel (as if agent and customer both spoke)."""
    path = tmp_path / "call.wav"
    subprocess.run(["sox", "-n", "-r", str(RATE), "-c", "2", "-b", "16", str(path), "synth", "3", "sine", "440",
                    "sine", "620"], check=True, capture_output=True)  # fmt: skip
    return path


SPAN = [Redaction(turn_id="t0", kind="phone", begin_ms=1000, end_ms=1500, char_start=0, char_end=7)]


def seconds(a: float, b: float) -> slice:
    return slice(int(a * RATE), int(b * RATE))


@needs_tools
@pytest.mark.parametrize("mode", ["silence", "tone"])
def test_audio_span_is_masked_on_every_channel(stereo: Path, tmp_path: Path, mode: str) -> None:
    target = tmp_path / "redacted.wav"
    redact_audio(stereo, target, SPAN, mode="silence" if mode == "silence" else "tone", pad_ms=0)
    before, _, _ = read_wav(stereo)
    after, channels, rate = read_wav(target)
    assert (channels, rate, after.shape) == (2, RATE, before.shape)
    inside = after[seconds(1.0, 1.5)]
    for ch in range(2):
        if mode == "silence":
            assert rms(inside[:, ch]) < 1.0
        else:
            spectrum = np.abs(np.fft.rfft(inside[:, ch]))
            peak_hz = np.argmax(spectrum) * RATE / len(inside)
            assert abs(peak_hz - 1000) < 10 and rms(inside[:, ch]) > 1000
    # elsewhere untouched (the mask has 10 ms granularity at its edges)
    for outside in (seconds(0, 0.98), seconds(1.52, 3)):
        assert np.abs(after[outside] - before[outside]).max() <= 1


@needs_tools
def test_audio_padding_and_overlapping_spans(stereo: Path, tmp_path: Path) -> None:
    spans = [*SPAN, SPAN[0].model_copy(update={"begin_ms": 1400, "end_ms": 2000})]
    target = tmp_path / "redacted.wav"
    redact_audio(stereo, target, spans, mode="silence")  # default pad 150 ms
    after, _, _ = read_wav(target)
    assert rms(after[seconds(0.86, 2.14)]) < 1.0
    assert rms(after[seconds(0.5, 0.8)]) > 1000 and rms(after[seconds(2.2, 2.5)]) > 1000


@needs_tools
def test_audio_keeps_the_codec(tmp_path: Path) -> None:
    source = tmp_path / "ulaw.wav"
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law", str(source), "synth", "3", "sine", "440"],
                   check=True, capture_output=True)  # fmt: skip
    target = tmp_path / "redacted.wav"
    redact_audio(source, target, SPAN, mode="tone")
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,sample_rate,channels",
                            "-of", "json", str(target)], check=True, capture_output=True, text=True)  # fmt: skip
    assert json.loads(probe.stdout)["streams"][0] == {"codec_name": "pcm_mulaw", "sample_rate": "8000", "channels": 1}


@needs_tools
def test_audio_without_redactions_is_a_copy(stereo: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy.wav"
    redact_audio(stereo, target, [], mode="tone")
    assert target.read_bytes() == stereo.read_bytes()
