from ting.audio.v1 import audio_pb2 as _audio_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SummaryPart(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUMMARY_PART_UNSPECIFIED: _ClassVar[SummaryPart]
    SUMMARY_PART_OVERVIEW: _ClassVar[SummaryPart]
    SUMMARY_PART_KEY_POINTS: _ClassVar[SummaryPart]
    SUMMARY_PART_CHAPTERS: _ClassVar[SummaryPart]
    SUMMARY_PART_ACTION_ITEMS: _ClassVar[SummaryPart]
    SUMMARY_PART_KEYWORDS: _ClassVar[SummaryPart]
    SUMMARY_PART_QUESTIONS_ANSWERS: _ClassVar[SummaryPart]
    SUMMARY_PART_SPEAKER_SUMMARIES: _ClassVar[SummaryPart]

class SummaryLength(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUMMARY_LENGTH_UNSPECIFIED: _ClassVar[SummaryLength]
    SUMMARY_LENGTH_SHORT: _ClassVar[SummaryLength]
    SUMMARY_LENGTH_MEDIUM: _ClassVar[SummaryLength]
    SUMMARY_LENGTH_LONG: _ClassVar[SummaryLength]
SUMMARY_PART_UNSPECIFIED: SummaryPart
SUMMARY_PART_OVERVIEW: SummaryPart
SUMMARY_PART_KEY_POINTS: SummaryPart
SUMMARY_PART_CHAPTERS: SummaryPart
SUMMARY_PART_ACTION_ITEMS: SummaryPart
SUMMARY_PART_KEYWORDS: SummaryPart
SUMMARY_PART_QUESTIONS_ANSWERS: SummaryPart
SUMMARY_PART_SPEAKER_SUMMARIES: SummaryPart
SUMMARY_LENGTH_UNSPECIFIED: SummaryLength
SUMMARY_LENGTH_SHORT: SummaryLength
SUMMARY_LENGTH_MEDIUM: SummaryLength
SUMMARY_LENGTH_LONG: SummaryLength

class SummaryConfig(_message.Message):
    __slots__ = ("parts", "output_language_code", "length", "engine", "title", "context", "speaker_names", "instructions", "reference_date", "max_keywords", "max_chapters")
    class SpeakerNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PARTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_NAMES_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_DATE_FIELD_NUMBER: _ClassVar[int]
    MAX_KEYWORDS_FIELD_NUMBER: _ClassVar[int]
    MAX_CHAPTERS_FIELD_NUMBER: _ClassVar[int]
    parts: _containers.RepeatedScalarFieldContainer[SummaryPart]
    output_language_code: str
    length: SummaryLength
    engine: str
    title: str
    context: str
    speaker_names: _containers.ScalarMap[str, str]
    instructions: str
    reference_date: str
    max_keywords: int
    max_chapters: int
    def __init__(self, parts: _Optional[_Iterable[_Union[SummaryPart, str]]] = ..., output_language_code: _Optional[str] = ..., length: _Optional[_Union[SummaryLength, str]] = ..., engine: _Optional[str] = ..., title: _Optional[str] = ..., context: _Optional[str] = ..., speaker_names: _Optional[_Mapping[str, str]] = ..., instructions: _Optional[str] = ..., reference_date: _Optional[str] = ..., max_keywords: _Optional[int] = ..., max_chapters: _Optional[int] = ...) -> None: ...

class SummarizeRequest(_message.Message):
    __slots__ = ("config", "segments", "language_code")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    config: SummaryConfig
    segments: _containers.RepeatedCompositeFieldContainer[_audio_pb2.Segment]
    language_code: str
    def __init__(self, config: _Optional[_Union[SummaryConfig, _Mapping]] = ..., segments: _Optional[_Iterable[_Union[_audio_pb2.Segment, _Mapping]]] = ..., language_code: _Optional[str] = ...) -> None: ...

class KeyPoint(_message.Message):
    __slots__ = ("text", "segment_ids", "start_ms", "end_ms")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    END_MS_FIELD_NUMBER: _ClassVar[int]
    text: str
    segment_ids: _containers.RepeatedScalarFieldContainer[int]
    start_ms: int
    end_ms: int
    def __init__(self, text: _Optional[str] = ..., segment_ids: _Optional[_Iterable[int]] = ..., start_ms: _Optional[int] = ..., end_ms: _Optional[int] = ...) -> None: ...

class Chapter(_message.Message):
    __slots__ = ("title", "start_ms", "end_ms", "summary", "start_segment_id", "end_segment_id")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    END_MS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    START_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    END_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    title: str
    start_ms: int
    end_ms: int
    summary: str
    start_segment_id: int
    end_segment_id: int
    def __init__(self, title: _Optional[str] = ..., start_ms: _Optional[int] = ..., end_ms: _Optional[int] = ..., summary: _Optional[str] = ..., start_segment_id: _Optional[int] = ..., end_segment_id: _Optional[int] = ...) -> None: ...

class ActionItem(_message.Message):
    __slots__ = ("text", "owner", "due", "due_date", "start_ms", "speaker", "segment_ids")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    DUE_FIELD_NUMBER: _ClassVar[int]
    DUE_DATE_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    text: str
    owner: str
    due: str
    due_date: str
    start_ms: int
    speaker: str
    segment_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, text: _Optional[str] = ..., owner: _Optional[str] = ..., due: _Optional[str] = ..., due_date: _Optional[str] = ..., start_ms: _Optional[int] = ..., speaker: _Optional[str] = ..., segment_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class Keyword(_message.Message):
    __slots__ = ("text", "score", "occurrence_count")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    OCCURRENCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    text: str
    score: float
    occurrence_count: int
    def __init__(self, text: _Optional[str] = ..., score: _Optional[float] = ..., occurrence_count: _Optional[int] = ...) -> None: ...

class QuestionAnswer(_message.Message):
    __slots__ = ("question", "answer", "start_ms", "question_speaker", "answer_speaker", "segment_ids")
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    QUESTION_SPEAKER_FIELD_NUMBER: _ClassVar[int]
    ANSWER_SPEAKER_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    question: str
    answer: str
    start_ms: int
    question_speaker: str
    answer_speaker: str
    segment_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, question: _Optional[str] = ..., answer: _Optional[str] = ..., start_ms: _Optional[int] = ..., question_speaker: _Optional[str] = ..., answer_speaker: _Optional[str] = ..., segment_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class SpeakerSummary(_message.Message):
    __slots__ = ("speaker", "name", "summary", "talk_time_ms", "turn_count")
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TALK_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    TURN_COUNT_FIELD_NUMBER: _ClassVar[int]
    speaker: str
    name: str
    summary: str
    talk_time_ms: int
    turn_count: int
    def __init__(self, speaker: _Optional[str] = ..., name: _Optional[str] = ..., summary: _Optional[str] = ..., talk_time_ms: _Optional[int] = ..., turn_count: _Optional[int] = ...) -> None: ...

class Summary(_message.Message):
    __slots__ = ("overview", "key_points", "chapters", "action_items", "keywords", "questions_answers", "speaker_summaries", "language_code", "parts")
    OVERVIEW_FIELD_NUMBER: _ClassVar[int]
    KEY_POINTS_FIELD_NUMBER: _ClassVar[int]
    CHAPTERS_FIELD_NUMBER: _ClassVar[int]
    ACTION_ITEMS_FIELD_NUMBER: _ClassVar[int]
    KEYWORDS_FIELD_NUMBER: _ClassVar[int]
    QUESTIONS_ANSWERS_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_SUMMARIES_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    overview: str
    key_points: _containers.RepeatedCompositeFieldContainer[KeyPoint]
    chapters: _containers.RepeatedCompositeFieldContainer[Chapter]
    action_items: _containers.RepeatedCompositeFieldContainer[ActionItem]
    keywords: _containers.RepeatedCompositeFieldContainer[Keyword]
    questions_answers: _containers.RepeatedCompositeFieldContainer[QuestionAnswer]
    speaker_summaries: _containers.RepeatedCompositeFieldContainer[SpeakerSummary]
    language_code: str
    parts: _containers.RepeatedScalarFieldContainer[SummaryPart]
    def __init__(self, overview: _Optional[str] = ..., key_points: _Optional[_Iterable[_Union[KeyPoint, _Mapping]]] = ..., chapters: _Optional[_Iterable[_Union[Chapter, _Mapping]]] = ..., action_items: _Optional[_Iterable[_Union[ActionItem, _Mapping]]] = ..., keywords: _Optional[_Iterable[_Union[Keyword, _Mapping]]] = ..., questions_answers: _Optional[_Iterable[_Union[QuestionAnswer, _Mapping]]] = ..., speaker_summaries: _Optional[_Iterable[_Union[SpeakerSummary, _Mapping]]] = ..., language_code: _Optional[str] = ..., parts: _Optional[_Iterable[_Union[SummaryPart, str]]] = ...) -> None: ...

class SummarizeResponse(_message.Message):
    __slots__ = ("summary", "engine", "model", "processing_ms", "chunk_count", "input_token_count", "output_token_count", "source_language_code")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_MS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_COUNT_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    summary: Summary
    engine: str
    model: str
    processing_ms: int
    chunk_count: int
    input_token_count: int
    output_token_count: int
    source_language_code: str
    def __init__(self, summary: _Optional[_Union[Summary, _Mapping]] = ..., engine: _Optional[str] = ..., model: _Optional[str] = ..., processing_ms: _Optional[int] = ..., chunk_count: _Optional[int] = ..., input_token_count: _Optional[int] = ..., output_token_count: _Optional[int] = ..., source_language_code: _Optional[str] = ...) -> None: ...

class ListEnginesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EngineInfo(_message.Message):
    __slots__ = ("name", "description", "model", "loaded", "default", "device", "supported_parts", "language_codes", "max_input_tokens")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    LOADED_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_PARTS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    MAX_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    model: str
    loaded: bool
    default: bool
    device: str
    supported_parts: _containers.RepeatedScalarFieldContainer[SummaryPart]
    language_codes: _containers.RepeatedScalarFieldContainer[str]
    max_input_tokens: int
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., model: _Optional[str] = ..., loaded: _Optional[bool] = ..., default: _Optional[bool] = ..., device: _Optional[str] = ..., supported_parts: _Optional[_Iterable[_Union[SummaryPart, str]]] = ..., language_codes: _Optional[_Iterable[str]] = ..., max_input_tokens: _Optional[int] = ...) -> None: ...

class ListEnginesResponse(_message.Message):
    __slots__ = ("engines",)
    ENGINES_FIELD_NUMBER: _ClassVar[int]
    engines: _containers.RepeatedCompositeFieldContainer[EngineInfo]
    def __init__(self, engines: _Optional[_Iterable[_Union[EngineInfo, _Mapping]]] = ...) -> None: ...
