"""Action items: commitment, request and deadline patterns, owners and de-duplication (en, zh)."""

from __future__ import annotations

import datetime as dt

from ting_common.transcript import Segment
from ting_summarize.engines import ActionItem
from ting_summarize.engines.actions import extract_action_items
from ting_summarize.engines.text import split_sentences

NAMES = {"A": "Maria", "B": "Tom", "C": "Daniel"}
WEDNESDAY = dt.date(2025, 3, 12)


def items(lines: list[tuple[str, str]], language: str = "en", names: dict[str, str] = NAMES) -> list[ActionItem]:
    segments = tuple(
        Segment(id=i, start=10.0 * i, end=10.0 * i + 8, text=text, speaker=speaker)
        for i, (speaker, text) in enumerate(lines)
    )
    return extract_action_items(split_sentences(segments, language), language, names, WEDNESDAY)


def test_first_person_commitment_is_owned_by_the_speaker() -> None:
    [item] = items([("A", "I will send the release notes draft to everyone by Friday, so you can comment.")])
    assert (item.owner, item.due, item.due_date) == ("Maria", "Friday", "2025-03-14")
    assert item.text == "Send the release notes draft to everyone"
    assert item.speaker == "A" and item.segment_ids == (0,)


def test_speaker_label_is_the_owner_without_names() -> None:
    [item] = items([("S1", "I'll update the runbook before next Tuesday.")], names={})
    assert (item.owner, item.due, item.due_date) == ("S1", "next Tuesday", "2025-03-18")


def test_request_with_deadline_names_the_addressee_and_merges_with_the_answer() -> None:
    found = items(
        [
            ("A", "Tom, can you write the postmortem and send it to Northwind by Thursday?"),
            ("B", "Yes. I will send the postmortem to Karen by Thursday, after legal has reviewed it."),
        ]
    )
    assert len(found) == 1
    assert (found[0].owner, found[0].due) == ("Tom", "Thursday")
    assert found[0].segment_ids == (0, 1)


def test_request_without_deadline_is_left_to_the_answer() -> None:
    found = items(
        [
            ("A", "Daniel, can you write the two backend job descriptions?"),
            ("C", "Sure. I will post both job descriptions on the careers page by Wednesday."),
        ]
    )
    assert [(i.owner, i.due) for i in found] == [("Daniel", "Wednesday")]


def test_third_person_and_recap_items_are_deduplicated() -> None:
    found = items(
        [
            (
                "C",
                "I can take the certificate alerts. "
                "I'll set them up for all production certificates by the end of the month.",
            ),
            ("A", "Daniel sets up the certificate alerts by the end of the month."),
            ("B", "Right now only Sofia and I have run pairing interviews."),  # "Sofia" seen mid-sentence: a name
            ("A", "Sofia will review the hiring budget by next Monday."),
            ("A", "Customers will complain by Friday."),  # capitalized only at the start: not taken for a name
        ]
    )
    assert [(i.owner, i.due) for i in found] == [("Daniel", "end of the month"), ("Sofia", "next Monday")]
    assert found[0].segment_ids == (0, 1)


def test_conditionals_questions_and_meeting_flow_are_not_action_items() -> None:
    found = items(
        [
            ("B", "If the fix is merged by Friday, we can cut the second release candidate on Monday."),
            ("A", "Let's move on to hiring."),
            ("C", "Should we offer Northwind a service credit?"),
            ("B", "I would call it a blocker, yes."),
        ]
    )
    assert found == []


def test_chinese_commitments_requests_and_recap() -> None:
    names = {"A": "王芳", "B": "李明", "C": "张伟"}
    found = items(
        [
            ("A", "李明，你能不能再跟酒店谈一谈价格？"),
            ("B", "没问题，我下周二之前联系酒店，确认最终报价和合同细节。"),
            ("A", "我负责在周五之前把这份报告整理好，发给大家。"),
            ("A", "张伟，你能在月底之前完成这些客户的回访吗？"),
            ("C", "可以，我在月底之前完成全部回访，并把结果汇总给你。"),
            ("A", "总结一下：李明下周二之前确认酒店报价，我周五之前发投诉分析报告，张伟月底之前完成客户回访。"),
        ],
        language="zh",
        names=names,
    )
    assert [(i.owner, i.due, i.due_date) for i in found] == [
        ("李明", "下周二之前", "2025-03-18"),
        ("王芳", "周五之前", "2025-03-14"),
        ("张伟", "月底之前", "2025-03-31"),
    ]
    assert found[0].text.startswith("联系酒店")
    assert 5 in found[0].segment_ids  # the recap was folded into the first mention
