from ting.audio.v1 import audio_pb2 as _audio_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Task(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_UNSPECIFIED: _ClassVar[Task]
    TASK_TRANSCRIBE: _ClassVar[Task]
    TASK_TRANSLATE: _ClassVar[Task]

class SpeechEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPEECH_EVENT_TYPE_UNSPECIFIED: _ClassVar[SpeechEventType]
    SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_BEGIN: _ClassVar[SpeechEventType]
    SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_END: _ClassVar[SpeechEventType]
    SPEECH_EVENT_TYPE_END_OF_UTTERANCE: _ClassVar[SpeechEventType]
TASK_UNSPECIFIED: Task
TASK_TRANSCRIBE: Task
TASK_TRANSLATE: Task
SPEECH_EVENT_TYPE_UNSPECIFIED: SpeechEventType
SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_BEGIN: SpeechEventType
SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_END: SpeechEventType
SPEECH_EVENT_TYPE_END_OF_UTTERANCE: SpeechEventType

class VadConfig(_message.Message):
    __slots__ = ("threshold", "min_silence_duration_ms", "speech_pad_ms", "min_speech_duration_ms")
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MIN_SILENCE_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    SPEECH_PAD_MS_FIELD_NUMBER: _ClassVar[int]
    MIN_SPEECH_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    threshold: float
    min_silence_duration_ms: int
    speech_pad_ms: int
    min_speech_duration_ms: int
    def __init__(self, threshold: _Optional[float] = ..., min_silence_duration_ms: _Optional[int] = ..., speech_pad_ms: _Optional[int] = ..., min_speech_duration_ms: _Optional[int] = ...) -> None: ...

class DiarizationConfig(_message.Message):
    __slots__ = ("enable_speaker_diarization", "speaker_count", "min_speaker_count", "max_speaker_count")
    ENABLE_SPEAKER_DIARIZATION_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_COUNT_FIELD_NUMBER: _ClassVar[int]
    MIN_SPEAKER_COUNT_FIELD_NUMBER: _ClassVar[int]
    MAX_SPEAKER_COUNT_FIELD_NUMBER: _ClassVar[int]
    enable_speaker_diarization: bool
    speaker_count: int
    min_speaker_count: int
    max_speaker_count: int
    def __init__(self, enable_speaker_diarization: _Optional[bool] = ..., speaker_count: _Optional[int] = ..., min_speaker_count: _Optional[int] = ..., max_speaker_count: _Optional[int] = ...) -> None: ...

class RecognitionConfig(_message.Message):
    __slots__ = ("model", "language_code", "task", "enable_word_time_offsets", "enable_vad_filter", "vad", "beam_size", "initial_prompt", "temperature", "condition_on_previous_text", "diarization")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    ENABLE_WORD_TIME_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    ENABLE_VAD_FILTER_FIELD_NUMBER: _ClassVar[int]
    VAD_FIELD_NUMBER: _ClassVar[int]
    BEAM_SIZE_FIELD_NUMBER: _ClassVar[int]
    INITIAL_PROMPT_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    CONDITION_ON_PREVIOUS_TEXT_FIELD_NUMBER: _ClassVar[int]
    DIARIZATION_FIELD_NUMBER: _ClassVar[int]
    model: str
    language_code: str
    task: Task
    enable_word_time_offsets: bool
    enable_vad_filter: bool
    vad: VadConfig
    beam_size: int
    initial_prompt: str
    temperature: float
    condition_on_previous_text: bool
    diarization: DiarizationConfig
    def __init__(self, model: _Optional[str] = ..., language_code: _Optional[str] = ..., task: _Optional[_Union[Task, str]] = ..., enable_word_time_offsets: _Optional[bool] = ..., enable_vad_filter: _Optional[bool] = ..., vad: _Optional[_Union[VadConfig, _Mapping]] = ..., beam_size: _Optional[int] = ..., initial_prompt: _Optional[str] = ..., temperature: _Optional[float] = ..., condition_on_previous_text: _Optional[bool] = ..., diarization: _Optional[_Union[DiarizationConfig, _Mapping]] = ...) -> None: ...

class RecognizeRequest(_message.Message):
    __slots__ = ("config", "audio")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    config: RecognitionConfig
    audio: _audio_pb2.AudioSource
    def __init__(self, config: _Optional[_Union[RecognitionConfig, _Mapping]] = ..., audio: _Optional[_Union[_audio_pb2.AudioSource, _Mapping]] = ...) -> None: ...

class RecognitionMetadata(_message.Message):
    __slots__ = ("model", "engine", "processing_ms", "request_id", "task")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_MS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    model: str
    engine: str
    processing_ms: int
    request_id: str
    task: Task
    def __init__(self, model: _Optional[str] = ..., engine: _Optional[str] = ..., processing_ms: _Optional[int] = ..., request_id: _Optional[str] = ..., task: _Optional[_Union[Task, str]] = ...) -> None: ...

class SpeakerSummary(_message.Message):
    __slots__ = ("label", "talk_time_ms", "turn_count")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    TALK_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    TURN_COUNT_FIELD_NUMBER: _ClassVar[int]
    label: str
    talk_time_ms: int
    turn_count: int
    def __init__(self, label: _Optional[str] = ..., talk_time_ms: _Optional[int] = ..., turn_count: _Optional[int] = ...) -> None: ...

class RecognizeResponse(_message.Message):
    __slots__ = ("transcript", "metadata", "speakers")
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    transcript: _audio_pb2.Transcript
    metadata: RecognitionMetadata
    speakers: _containers.RepeatedCompositeFieldContainer[SpeakerSummary]
    def __init__(self, transcript: _Optional[_Union[_audio_pb2.Transcript, _Mapping]] = ..., metadata: _Optional[_Union[RecognitionMetadata, _Mapping]] = ..., speakers: _Optional[_Iterable[_Union[SpeakerSummary, _Mapping]]] = ...) -> None: ...

class LongRunningRecognizeRequest(_message.Message):
    __slots__ = ("config", "audio")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    config: RecognitionConfig
    audio: _audio_pb2.AudioSource
    def __init__(self, config: _Optional[_Union[RecognitionConfig, _Mapping]] = ..., audio: _Optional[_Union[_audio_pb2.AudioSource, _Mapping]] = ...) -> None: ...

class RecognitionProgress(_message.Message):
    __slots__ = ("fraction", "processed_ms", "duration_ms", "segments")
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_MS_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    fraction: float
    processed_ms: int
    duration_ms: int
    segments: _containers.RepeatedCompositeFieldContainer[_audio_pb2.Segment]
    def __init__(self, fraction: _Optional[float] = ..., processed_ms: _Optional[int] = ..., duration_ms: _Optional[int] = ..., segments: _Optional[_Iterable[_Union[_audio_pb2.Segment, _Mapping]]] = ...) -> None: ...

class LongRunningRecognizeResponse(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: RecognitionProgress
    result: RecognizeResponse
    def __init__(self, progress: _Optional[_Union[RecognitionProgress, _Mapping]] = ..., result: _Optional[_Union[RecognizeResponse, _Mapping]] = ...) -> None: ...

class StreamingRecognitionConfig(_message.Message):
    __slots__ = ("config", "audio_format", "interim_results", "max_utterance_ms", "single_utterance")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FORMAT_FIELD_NUMBER: _ClassVar[int]
    INTERIM_RESULTS_FIELD_NUMBER: _ClassVar[int]
    MAX_UTTERANCE_MS_FIELD_NUMBER: _ClassVar[int]
    SINGLE_UTTERANCE_FIELD_NUMBER: _ClassVar[int]
    config: RecognitionConfig
    audio_format: _audio_pb2.AudioFormat
    interim_results: bool
    max_utterance_ms: int
    single_utterance: bool
    def __init__(self, config: _Optional[_Union[RecognitionConfig, _Mapping]] = ..., audio_format: _Optional[_Union[_audio_pb2.AudioFormat, _Mapping]] = ..., interim_results: _Optional[bool] = ..., max_utterance_ms: _Optional[int] = ..., single_utterance: _Optional[bool] = ...) -> None: ...

class StreamingRecognizeRequest(_message.Message):
    __slots__ = ("streaming_config", "audio_content")
    STREAMING_CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    streaming_config: StreamingRecognitionConfig
    audio_content: bytes
    def __init__(self, streaming_config: _Optional[_Union[StreamingRecognitionConfig, _Mapping]] = ..., audio_content: _Optional[bytes] = ...) -> None: ...

class StreamingRecognitionResult(_message.Message):
    __slots__ = ("text", "words", "is_final", "stability", "start_ms", "end_ms", "language_code", "utterance_index")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    STABILITY_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    END_MS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_INDEX_FIELD_NUMBER: _ClassVar[int]
    text: str
    words: _containers.RepeatedCompositeFieldContainer[_audio_pb2.Word]
    is_final: bool
    stability: float
    start_ms: int
    end_ms: int
    language_code: str
    utterance_index: int
    def __init__(self, text: _Optional[str] = ..., words: _Optional[_Iterable[_Union[_audio_pb2.Word, _Mapping]]] = ..., is_final: _Optional[bool] = ..., stability: _Optional[float] = ..., start_ms: _Optional[int] = ..., end_ms: _Optional[int] = ..., language_code: _Optional[str] = ..., utterance_index: _Optional[int] = ...) -> None: ...

class SpeechEvent(_message.Message):
    __slots__ = ("type", "offset_ms")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    type: SpeechEventType
    offset_ms: int
    def __init__(self, type: _Optional[_Union[SpeechEventType, str]] = ..., offset_ms: _Optional[int] = ...) -> None: ...

class StreamingRecognizeResponse(_message.Message):
    __slots__ = ("results", "speech_event", "request_id")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SPEECH_EVENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[StreamingRecognitionResult]
    speech_event: SpeechEvent
    request_id: str
    def __init__(self, results: _Optional[_Iterable[_Union[StreamingRecognitionResult, _Mapping]]] = ..., speech_event: _Optional[_Union[SpeechEvent, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "description", "multilingual", "language_codes", "loaded", "default", "engine", "device", "compute_type", "supports_diarization", "supports_translation")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MULTILINGUAL_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    LOADED_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_DIARIZATION_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_TRANSLATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    multilingual: bool
    language_codes: _containers.RepeatedScalarFieldContainer[str]
    loaded: bool
    default: bool
    engine: str
    device: str
    compute_type: str
    supports_diarization: bool
    supports_translation: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., multilingual: _Optional[bool] = ..., language_codes: _Optional[_Iterable[str]] = ..., loaded: _Optional[bool] = ..., default: _Optional[bool] = ..., engine: _Optional[str] = ..., device: _Optional[str] = ..., compute_type: _Optional[str] = ..., supports_diarization: _Optional[bool] = ..., supports_translation: _Optional[bool] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ...) -> None: ...
