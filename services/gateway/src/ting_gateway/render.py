"""Rendering a pipeline's results as files: the transcript and every translation in each requested format, and
the summary as text or JSON. Subtitle and text layout come from :func:`ting_common.formats.format_transcript`
(the one writer every door of Ting uses), so a file downloaded from the gateway matches one the CLI writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from google.protobuf import json_format

from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.summarization.v1 import summarization_service_pb2 as sum_pb
from ting_common.errors import InvalidArgumentError, OutOfRangeError
from ting_common.formats import format_timestamp, format_transcript
from ting_common.transcript import Segment, Transcript
from ting_common.transcript_proto import transcript_from_proto

F = pb.TranscriptFormat

EXTENSIONS: Final[dict[int, str]] = {
    F.TRANSCRIPT_FORMAT_TXT: "txt",
    F.TRANSCRIPT_FORMAT_JSON: "json",
    F.TRANSCRIPT_FORMAT_SRT: "srt",
    F.TRANSCRIPT_FORMAT_VTT: "vtt",
    F.TRANSCRIPT_FORMAT_TSV: "tsv",
}
CONTENT_TYPES: Final[dict[int, str]] = {
    F.TRANSCRIPT_FORMAT_TXT: "text/plain; charset=utf-8",
    F.TRANSCRIPT_FORMAT_JSON: "application/json",
    F.TRANSCRIPT_FORMAT_SRT: "application/x-subrip",
    F.TRANSCRIPT_FORMAT_VTT: "text/vtt",
    F.TRANSCRIPT_FORMAT_TSV: "text/tab-separated-values",
}
FORMAT_BY_NAME: Final[dict[str, int]] = {name: value for value, name in EXTENSIONS.items()}
SUMMARY_FORMATS: Final = frozenset({F.TRANSCRIPT_FORMAT_TXT, F.TRANSCRIPT_FORMAT_JSON})


@dataclass(frozen=True)
class RenderedFile:
    """One rendered output before it is stored or inlined."""

    kind: pb.ArtifactKind
    format: pb.TranscriptFormat
    language_code: str
    filename: str
    content_type: str
    content: bytes


def check_output_options(options: pb.OutputOptions) -> None:
    """Reject unknown or repeated formats and a line length outside 20..200 (0 allowed)."""
    seen: set[int] = set()
    for value in options.formats:
        if value not in EXTENSIONS:
            raise InvalidArgumentError(f"output.formats: {value} is not a format; use TXT, JSON, SRT, VTT or TSV")
        if value in seen:
            raise InvalidArgumentError(f"output.formats: {pb.TranscriptFormat.Name(value)} is listed twice")
        seen.add(value)
    if options.max_line_length and not 20 <= options.max_line_length <= 200:
        raise OutOfRangeError(f"output.max_line_length must be 0 or 20..200, got {options.max_line_length}")


def _named(transcript: Transcript, names: Mapping[str, str], include_speakers: bool, vtt: bool) -> Transcript:
    if not any(s.speaker for s in transcript.segments):
        return transcript
    keep = include_speakers or vtt
    segments = tuple(
        Segment(
            id=s.id,
            start=s.start,
            end=s.end,
            text=s.text,
            words=s.words,
            avg_logprob=s.avg_logprob,
            no_speech_prob=s.no_speech_prob,
            compression_ratio=s.compression_ratio,
            temperature=s.temperature,
            speaker=(names.get(s.speaker, s.speaker) if keep else ""),
        )
        for s in transcript.segments
    )
    return Transcript(
        language=transcript.language,
        duration=transcript.duration,
        segments=segments,
        language_probability=transcript.language_probability,
        task=transcript.task,
        model=transcript.model,
    )


def translation_transcript(translation: pb.TranscriptTranslation, duration_ms: int) -> Transcript:
    """A translation's cues as a :class:`Transcript` (one segment per cue, no word times) for the writers."""
    segments = tuple(
        Segment(id=cue.index, start=cue.start_ms / 1000, end=cue.end_ms / 1000, text=cue.text, speaker=cue.speaker)
        for cue in translation.cues
    )
    return Transcript(language=translation.language_code, duration=duration_ms / 1000, segments=segments)


def _render_text(
    transcript: Transcript, fmt: int, options: pb.OutputOptions, names: Mapping[str, str], json_message: object
) -> bytes:
    if fmt == F.TRANSCRIPT_FORMAT_JSON:
        assert json_message is not None
        return (json_format.MessageToJson(json_message, indent=2, ensure_ascii=False) + "\n").encode()  # type: ignore[arg-type]
    vtt = fmt == F.TRANSCRIPT_FORMAT_VTT
    named = _named(transcript, names, options.include_speakers, vtt)
    width = options.max_line_length or 10_000
    lines = 2 if options.max_line_length else 1
    return format_transcript(named, EXTENSIONS[fmt], max_line_width=width, max_lines=lines).encode()


def summary_text(summary: sum_pb.Summary, names: Mapping[str, str] | None = None) -> str:
    """The summary as plain text with headings (the TXT artifact and the CLI's text output)."""
    names = names or {}
    out: list[str] = []

    def stamp(ms: int) -> str:
        return format_timestamp(ms / 1000, always_hours=False, decimal_marker=".").split(".")[0]

    if summary.overview:
        out += ["Overview", "", summary.overview.strip(), ""]
    if summary.key_points:
        out += ["Key points", ""] + [f"- {p.text}" for p in summary.key_points] + [""]
    if summary.chapters:
        out += ["Chapters", ""]
        for chapter in summary.chapters:
            out.append(f"{stamp(chapter.start_ms)}-{stamp(chapter.end_ms)}  {chapter.title}")
            if chapter.summary:
                out.append(f"    {chapter.summary}")
        out.append("")
    if summary.action_items:
        out += ["Action items", ""]
        for item in summary.action_items:
            extra = [names.get(item.owner, item.owner)] if item.owner else []
            if item.due_date or item.due:
                extra.append(f"due {item.due_date or item.due}")
            suffix = f" ({', '.join(extra)})" if extra else ""
            out.append(f"- [ ] {item.text}{suffix}")
        out.append("")
    if summary.keywords:
        out += ["Keywords", "", ", ".join(k.text for k in summary.keywords), ""]
    if summary.questions_answers:
        out += ["Questions and answers", ""]
        for qa in summary.questions_answers:
            out += [f"Q: {qa.question}", f"A: {qa.answer}", ""]
    if summary.speaker_summaries:
        out += ["Speakers", ""]
        for speaker in summary.speaker_summaries:
            label = speaker.name or names.get(speaker.speaker, speaker.speaker)
            out.append(f"- {label}: {speaker.summary}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def render(
    result: pb.PipelineResult, options: pb.OutputOptions, speaker_names: Mapping[str, str]
) -> list[RenderedFile]:
    """Every requested file for ``result``: transcript, each translation, the summary (TXT/JSON only)."""
    files: list[RenderedFile] = []
    formats: Sequence[int] = list(options.formats)
    has_transcript = result.HasField("transcript")
    transcript = transcript_from_proto(result.transcript) if has_transcript else None
    duration_ms = result.transcript.duration_ms if has_transcript else 0
    for fmt in formats:
        ext = EXTENSIONS[fmt]
        if transcript is not None:
            files.append(
                RenderedFile(
                    pb.ARTIFACT_KIND_TRANSCRIPT,
                    fmt,  # type: ignore[arg-type]
                    transcript.language,
                    f"transcript.{ext}",
                    CONTENT_TYPES[fmt],
                    _render_text(transcript, fmt, options, speaker_names, result.transcript),
                )
            )
        for translation in result.translations:
            files.append(
                RenderedFile(
                    pb.ARTIFACT_KIND_TRANSLATION,
                    fmt,  # type: ignore[arg-type]
                    translation.language_code,
                    f"translation.{translation.language_code}.{ext}",
                    CONTENT_TYPES[fmt],
                    _render_text(
                        translation_transcript(translation, duration_ms), fmt, options, speaker_names, translation
                    ),
                )
            )
        if result.HasField("summary") and fmt in SUMMARY_FORMATS:
            content = (
                (json_format.MessageToJson(result.summary, indent=2, ensure_ascii=False) + "\n").encode()
                if fmt == F.TRANSCRIPT_FORMAT_JSON
                else summary_text(result.summary, speaker_names).encode()
            )
            files.append(
                RenderedFile(
                    pb.ARTIFACT_KIND_SUMMARY,
                    fmt,  # type: ignore[arg-type]
                    result.summary.language_code,
                    f"summary.{ext}",
                    CONTENT_TYPES[fmt],
                    content,
                )
            )
    return files
