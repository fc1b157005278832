from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Formality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FORMALITY_UNSPECIFIED: _ClassVar[Formality]
    FORMALITY_FORMAL: _ClassVar[Formality]
    FORMALITY_INFORMAL: _ClassVar[Formality]

class SubtitleFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBTITLE_FORMAT_UNSPECIFIED: _ClassVar[SubtitleFormat]
    SUBTITLE_FORMAT_SRT: _ClassVar[SubtitleFormat]
    SUBTITLE_FORMAT_VTT: _ClassVar[SubtitleFormat]
FORMALITY_UNSPECIFIED: Formality
FORMALITY_FORMAL: Formality
FORMALITY_INFORMAL: Formality
SUBTITLE_FORMAT_UNSPECIFIED: SubtitleFormat
SUBTITLE_FORMAT_SRT: SubtitleFormat
SUBTITLE_FORMAT_VTT: SubtitleFormat

class GlossaryEntry(_message.Message):
    __slots__ = ("term", "translation", "target_language_code", "case_sensitive")
    TERM_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    CASE_SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    term: str
    translation: str
    target_language_code: str
    case_sensitive: bool
    def __init__(self, term: _Optional[str] = ..., translation: _Optional[str] = ..., target_language_code: _Optional[str] = ..., case_sensitive: _Optional[bool] = ...) -> None: ...

class TranslationConfig(_message.Message):
    __slots__ = ("source_language_code", "target_language_codes", "engine", "glossary", "context", "domain", "preserve_formatting", "formality")
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    GLOSSARY_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    PRESERVE_FORMATTING_FIELD_NUMBER: _ClassVar[int]
    FORMALITY_FIELD_NUMBER: _ClassVar[int]
    source_language_code: str
    target_language_codes: _containers.RepeatedScalarFieldContainer[str]
    engine: str
    glossary: _containers.RepeatedCompositeFieldContainer[GlossaryEntry]
    context: str
    domain: str
    preserve_formatting: bool
    formality: Formality
    def __init__(self, source_language_code: _Optional[str] = ..., target_language_codes: _Optional[_Iterable[str]] = ..., engine: _Optional[str] = ..., glossary: _Optional[_Iterable[_Union[GlossaryEntry, _Mapping]]] = ..., context: _Optional[str] = ..., domain: _Optional[str] = ..., preserve_formatting: _Optional[bool] = ..., formality: _Optional[_Union[Formality, str]] = ...) -> None: ...

class TranslateTextRequest(_message.Message):
    __slots__ = ("texts", "config")
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    config: TranslationConfig
    def __init__(self, texts: _Optional[_Iterable[str]] = ..., config: _Optional[_Union[TranslationConfig, _Mapping]] = ...) -> None: ...

class Translation(_message.Message):
    __slots__ = ("text", "detected_language_code")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DETECTED_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    text: str
    detected_language_code: str
    def __init__(self, text: _Optional[str] = ..., detected_language_code: _Optional[str] = ...) -> None: ...

class TranslatedTexts(_message.Message):
    __slots__ = ("target_language_code", "translations")
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TRANSLATIONS_FIELD_NUMBER: _ClassVar[int]
    target_language_code: str
    translations: _containers.RepeatedCompositeFieldContainer[Translation]
    def __init__(self, target_language_code: _Optional[str] = ..., translations: _Optional[_Iterable[_Union[Translation, _Mapping]]] = ...) -> None: ...

class TranslateTextResponse(_message.Message):
    __slots__ = ("translations", "engine", "model", "processing_ms")
    TRANSLATIONS_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_MS_FIELD_NUMBER: _ClassVar[int]
    translations: _containers.RepeatedCompositeFieldContainer[TranslatedTexts]
    engine: str
    model: str
    processing_ms: int
    def __init__(self, translations: _Optional[_Iterable[_Union[TranslatedTexts, _Mapping]]] = ..., engine: _Optional[str] = ..., model: _Optional[str] = ..., processing_ms: _Optional[int] = ...) -> None: ...

class Cue(_message.Message):
    __slots__ = ("index", "start_ms", "end_ms", "text", "speaker", "identifier", "settings")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    END_MS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    index: int
    start_ms: int
    end_ms: int
    text: str
    speaker: str
    identifier: str
    settings: str
    def __init__(self, index: _Optional[int] = ..., start_ms: _Optional[int] = ..., end_ms: _Optional[int] = ..., text: _Optional[str] = ..., speaker: _Optional[str] = ..., identifier: _Optional[str] = ..., settings: _Optional[str] = ...) -> None: ...

class CueList(_message.Message):
    __slots__ = ("cues",)
    CUES_FIELD_NUMBER: _ClassVar[int]
    cues: _containers.RepeatedCompositeFieldContainer[Cue]
    def __init__(self, cues: _Optional[_Iterable[_Union[Cue, _Mapping]]] = ...) -> None: ...

class SubtitleDocument(_message.Message):
    __slots__ = ("content", "format")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    format: SubtitleFormat
    def __init__(self, content: _Optional[bytes] = ..., format: _Optional[_Union[SubtitleFormat, str]] = ...) -> None: ...

class TranslateSubtitlesRequest(_message.Message):
    __slots__ = ("cues", "document", "config", "output_format", "max_line_length", "max_cues_per_chunk")
    CUES_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    MAX_LINE_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MAX_CUES_PER_CHUNK_FIELD_NUMBER: _ClassVar[int]
    cues: CueList
    document: SubtitleDocument
    config: TranslationConfig
    output_format: SubtitleFormat
    max_line_length: int
    max_cues_per_chunk: int
    def __init__(self, cues: _Optional[_Union[CueList, _Mapping]] = ..., document: _Optional[_Union[SubtitleDocument, _Mapping]] = ..., config: _Optional[_Union[TranslationConfig, _Mapping]] = ..., output_format: _Optional[_Union[SubtitleFormat, str]] = ..., max_line_length: _Optional[int] = ..., max_cues_per_chunk: _Optional[int] = ...) -> None: ...

class SubtitleTranslationReport(_message.Message):
    __slots__ = ("cue_count", "chunk_count", "retry_count", "split_count", "untranslated_cue_indices")
    CUE_COUNT_FIELD_NUMBER: _ClassVar[int]
    CHUNK_COUNT_FIELD_NUMBER: _ClassVar[int]
    RETRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    SPLIT_COUNT_FIELD_NUMBER: _ClassVar[int]
    UNTRANSLATED_CUE_INDICES_FIELD_NUMBER: _ClassVar[int]
    cue_count: int
    chunk_count: int
    retry_count: int
    split_count: int
    untranslated_cue_indices: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, cue_count: _Optional[int] = ..., chunk_count: _Optional[int] = ..., retry_count: _Optional[int] = ..., split_count: _Optional[int] = ..., untranslated_cue_indices: _Optional[_Iterable[int]] = ...) -> None: ...

class TranslatedSubtitles(_message.Message):
    __slots__ = ("target_language_code", "cues", "document", "report")
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    CUES_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    target_language_code: str
    cues: _containers.RepeatedCompositeFieldContainer[Cue]
    document: SubtitleDocument
    report: SubtitleTranslationReport
    def __init__(self, target_language_code: _Optional[str] = ..., cues: _Optional[_Iterable[_Union[Cue, _Mapping]]] = ..., document: _Optional[_Union[SubtitleDocument, _Mapping]] = ..., report: _Optional[_Union[SubtitleTranslationReport, _Mapping]] = ...) -> None: ...

class TranslateSubtitlesResponse(_message.Message):
    __slots__ = ("translations", "source_language_code", "engine", "model", "processing_ms")
    TRANSLATIONS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_MS_FIELD_NUMBER: _ClassVar[int]
    translations: _containers.RepeatedCompositeFieldContainer[TranslatedSubtitles]
    source_language_code: str
    engine: str
    model: str
    processing_ms: int
    def __init__(self, translations: _Optional[_Iterable[_Union[TranslatedSubtitles, _Mapping]]] = ..., source_language_code: _Optional[str] = ..., engine: _Optional[str] = ..., model: _Optional[str] = ..., processing_ms: _Optional[int] = ...) -> None: ...

class ListEnginesRequest(_message.Message):
    __slots__ = ("source_language_code", "target_language_code")
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    source_language_code: str
    target_language_code: str
    def __init__(self, source_language_code: _Optional[str] = ..., target_language_code: _Optional[str] = ...) -> None: ...

class LanguagePair(_message.Message):
    __slots__ = ("source_language_code", "target_language_code")
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    source_language_code: str
    target_language_code: str
    def __init__(self, source_language_code: _Optional[str] = ..., target_language_code: _Optional[str] = ...) -> None: ...

class EngineInfo(_message.Message):
    __slots__ = ("name", "description", "model", "source_language_codes", "target_language_codes", "language_pairs", "loaded", "default", "device", "supports_language_detection", "supports_glossary", "supports_context", "supports_formality", "default_cues_per_chunk")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_PAIRS_FIELD_NUMBER: _ClassVar[int]
    LOADED_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_LANGUAGE_DETECTION_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_GLOSSARY_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_FORMALITY_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_CUES_PER_CHUNK_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    model: str
    source_language_codes: _containers.RepeatedScalarFieldContainer[str]
    target_language_codes: _containers.RepeatedScalarFieldContainer[str]
    language_pairs: _containers.RepeatedCompositeFieldContainer[LanguagePair]
    loaded: bool
    default: bool
    device: str
    supports_language_detection: bool
    supports_glossary: bool
    supports_context: bool
    supports_formality: bool
    default_cues_per_chunk: int
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., model: _Optional[str] = ..., source_language_codes: _Optional[_Iterable[str]] = ..., target_language_codes: _Optional[_Iterable[str]] = ..., language_pairs: _Optional[_Iterable[_Union[LanguagePair, _Mapping]]] = ..., loaded: _Optional[bool] = ..., default: _Optional[bool] = ..., device: _Optional[str] = ..., supports_language_detection: _Optional[bool] = ..., supports_glossary: _Optional[bool] = ..., supports_context: _Optional[bool] = ..., supports_formality: _Optional[bool] = ..., default_cues_per_chunk: _Optional[int] = ...) -> None: ...

class ListEnginesResponse(_message.Message):
    __slots__ = ("engines",)
    ENGINES_FIELD_NUMBER: _ClassVar[int]
    engines: _containers.RepeatedCompositeFieldContainer[EngineInfo]
    def __init__(self, engines: _Optional[_Iterable[_Union[EngineInfo, _Mapping]]] = ...) -> None: ...
