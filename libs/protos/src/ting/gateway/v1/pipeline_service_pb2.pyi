import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ting.asr.v1 import asr_service_pb2 as _asr_service_pb2
from ting.audio.v1 import audio_pb2 as _audio_pb2
from ting.separation.v1 import separation_service_pb2 as _separation_service_pb2
from ting.summarization.v1 import summarization_service_pb2 as _summarization_service_pb2
from ting.translation.v1 import translation_service_pb2 as _translation_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TranscriptFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSCRIPT_FORMAT_UNSPECIFIED: _ClassVar[TranscriptFormat]
    TRANSCRIPT_FORMAT_TXT: _ClassVar[TranscriptFormat]
    TRANSCRIPT_FORMAT_JSON: _ClassVar[TranscriptFormat]
    TRANSCRIPT_FORMAT_SRT: _ClassVar[TranscriptFormat]
    TRANSCRIPT_FORMAT_VTT: _ClassVar[TranscriptFormat]
    TRANSCRIPT_FORMAT_TSV: _ClassVar[TranscriptFormat]

class PipelineStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PIPELINE_STAGE_UNSPECIFIED: _ClassVar[PipelineStage]
    PIPELINE_STAGE_FETCHING: _ClassVar[PipelineStage]
    PIPELINE_STAGE_DECODING: _ClassVar[PipelineStage]
    PIPELINE_STAGE_SEPARATING: _ClassVar[PipelineStage]
    PIPELINE_STAGE_TRANSCRIBING: _ClassVar[PipelineStage]
    PIPELINE_STAGE_TRANSLATING: _ClassVar[PipelineStage]
    PIPELINE_STAGE_SUMMARIZING: _ClassVar[PipelineStage]
    PIPELINE_STAGE_RENDERING: _ClassVar[PipelineStage]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_CANCELLING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_PARTIALLY_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]

class StepState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_STATE_UNSPECIFIED: _ClassVar[StepState]
    STEP_STATE_PENDING: _ClassVar[StepState]
    STEP_STATE_RUNNING: _ClassVar[StepState]
    STEP_STATE_SUCCEEDED: _ClassVar[StepState]
    STEP_STATE_FAILED: _ClassVar[StepState]
    STEP_STATE_SKIPPED: _ClassVar[StepState]
    STEP_STATE_CANCELLED: _ClassVar[StepState]

class TranslationMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSLATION_METHOD_UNSPECIFIED: _ClassVar[TranslationMethod]
    TRANSLATION_METHOD_TEXT: _ClassVar[TranslationMethod]
    TRANSLATION_METHOD_SPEECH: _ClassVar[TranslationMethod]

class ArtifactKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ARTIFACT_KIND_UNSPECIFIED: _ClassVar[ArtifactKind]
    ARTIFACT_KIND_TRANSCRIPT: _ClassVar[ArtifactKind]
    ARTIFACT_KIND_TRANSLATION: _ClassVar[ArtifactKind]
    ARTIFACT_KIND_SUMMARY: _ClassVar[ArtifactKind]

class JobView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_VIEW_UNSPECIFIED: _ClassVar[JobView]
    JOB_VIEW_BASIC: _ClassVar[JobView]
    JOB_VIEW_FULL: _ClassVar[JobView]

class JobOrderBy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_ORDER_BY_UNSPECIFIED: _ClassVar[JobOrderBy]
    JOB_ORDER_BY_CREATE_TIME_DESC: _ClassVar[JobOrderBy]
    JOB_ORDER_BY_CREATE_TIME_ASC: _ClassVar[JobOrderBy]
    JOB_ORDER_BY_UPDATE_TIME_DESC: _ClassVar[JobOrderBy]
    JOB_ORDER_BY_UPDATE_TIME_ASC: _ClassVar[JobOrderBy]
TRANSCRIPT_FORMAT_UNSPECIFIED: TranscriptFormat
TRANSCRIPT_FORMAT_TXT: TranscriptFormat
TRANSCRIPT_FORMAT_JSON: TranscriptFormat
TRANSCRIPT_FORMAT_SRT: TranscriptFormat
TRANSCRIPT_FORMAT_VTT: TranscriptFormat
TRANSCRIPT_FORMAT_TSV: TranscriptFormat
PIPELINE_STAGE_UNSPECIFIED: PipelineStage
PIPELINE_STAGE_FETCHING: PipelineStage
PIPELINE_STAGE_DECODING: PipelineStage
PIPELINE_STAGE_SEPARATING: PipelineStage
PIPELINE_STAGE_TRANSCRIBING: PipelineStage
PIPELINE_STAGE_TRANSLATING: PipelineStage
PIPELINE_STAGE_SUMMARIZING: PipelineStage
PIPELINE_STAGE_RENDERING: PipelineStage
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_CANCELLING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_PARTIALLY_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
STEP_STATE_UNSPECIFIED: StepState
STEP_STATE_PENDING: StepState
STEP_STATE_RUNNING: StepState
STEP_STATE_SUCCEEDED: StepState
STEP_STATE_FAILED: StepState
STEP_STATE_SKIPPED: StepState
STEP_STATE_CANCELLED: StepState
TRANSLATION_METHOD_UNSPECIFIED: TranslationMethod
TRANSLATION_METHOD_TEXT: TranslationMethod
TRANSLATION_METHOD_SPEECH: TranslationMethod
ARTIFACT_KIND_UNSPECIFIED: ArtifactKind
ARTIFACT_KIND_TRANSCRIPT: ArtifactKind
ARTIFACT_KIND_TRANSLATION: ArtifactKind
ARTIFACT_KIND_SUMMARY: ArtifactKind
JOB_VIEW_UNSPECIFIED: JobView
JOB_VIEW_BASIC: JobView
JOB_VIEW_FULL: JobView
JOB_ORDER_BY_UNSPECIFIED: JobOrderBy
JOB_ORDER_BY_CREATE_TIME_DESC: JobOrderBy
JOB_ORDER_BY_CREATE_TIME_ASC: JobOrderBy
JOB_ORDER_BY_UPDATE_TIME_DESC: JobOrderBy
JOB_ORDER_BY_UPDATE_TIME_ASC: JobOrderBy

class OutputOptions(_message.Message):
    __slots__ = ("formats", "max_line_length", "include_speakers")
    FORMATS_FIELD_NUMBER: _ClassVar[int]
    MAX_LINE_LENGTH_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    formats: _containers.RepeatedScalarFieldContainer[TranscriptFormat]
    max_line_length: int
    include_speakers: bool
    def __init__(self, formats: _Optional[_Iterable[_Union[TranscriptFormat, str]]] = ..., max_line_length: _Optional[int] = ..., include_speakers: _Optional[bool] = ...) -> None: ...

class PipelineConfig(_message.Message):
    __slots__ = ("recognition", "skip_recognition", "translation", "translate_english_from_text", "summary", "separation", "recognize_vocals", "output", "speaker_names")
    class SpeakerNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RECOGNITION_FIELD_NUMBER: _ClassVar[int]
    SKIP_RECOGNITION_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_FIELD_NUMBER: _ClassVar[int]
    TRANSLATE_ENGLISH_FROM_TEXT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    SEPARATION_FIELD_NUMBER: _ClassVar[int]
    RECOGNIZE_VOCALS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_NAMES_FIELD_NUMBER: _ClassVar[int]
    recognition: _asr_service_pb2.RecognitionConfig
    skip_recognition: bool
    translation: _translation_service_pb2.TranslationConfig
    translate_english_from_text: bool
    summary: _summarization_service_pb2.SummaryConfig
    separation: _separation_service_pb2.SeparationConfig
    recognize_vocals: bool
    output: OutputOptions
    speaker_names: _containers.ScalarMap[str, str]
    def __init__(self, recognition: _Optional[_Union[_asr_service_pb2.RecognitionConfig, _Mapping]] = ..., skip_recognition: _Optional[bool] = ..., translation: _Optional[_Union[_translation_service_pb2.TranslationConfig, _Mapping]] = ..., translate_english_from_text: _Optional[bool] = ..., summary: _Optional[_Union[_summarization_service_pb2.SummaryConfig, _Mapping]] = ..., separation: _Optional[_Union[_separation_service_pb2.SeparationConfig, _Mapping]] = ..., recognize_vocals: _Optional[bool] = ..., output: _Optional[_Union[OutputOptions, _Mapping]] = ..., speaker_names: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class StepStatus(_message.Message):
    __slots__ = ("stage", "language_code", "state", "progress", "error", "engine", "model", "start_time", "finish_time", "message")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    stage: PipelineStage
    language_code: str
    state: StepState
    progress: float
    error: Status
    engine: str
    model: str
    start_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    message: str
    def __init__(self, stage: _Optional[_Union[PipelineStage, str]] = ..., language_code: _Optional[str] = ..., state: _Optional[_Union[StepState, str]] = ..., progress: _Optional[float] = ..., error: _Optional[_Union[Status, _Mapping]] = ..., engine: _Optional[str] = ..., model: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...

class TranscriptTranslation(_message.Message):
    __slots__ = ("language_code", "cues", "text", "method", "engine", "model", "report")
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    CUES_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    language_code: str
    cues: _containers.RepeatedCompositeFieldContainer[_translation_service_pb2.Cue]
    text: str
    method: TranslationMethod
    engine: str
    model: str
    report: _translation_service_pb2.SubtitleTranslationReport
    def __init__(self, language_code: _Optional[str] = ..., cues: _Optional[_Iterable[_Union[_translation_service_pb2.Cue, _Mapping]]] = ..., text: _Optional[str] = ..., method: _Optional[_Union[TranslationMethod, str]] = ..., engine: _Optional[str] = ..., model: _Optional[str] = ..., report: _Optional[_Union[_translation_service_pb2.SubtitleTranslationReport, _Mapping]] = ...) -> None: ...

class Artifact(_message.Message):
    __slots__ = ("kind", "format", "language_code", "filename", "content_type", "content", "uri", "url", "url_expire_time", "size_bytes")
    KIND_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    URL_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    kind: ArtifactKind
    format: TranscriptFormat
    language_code: str
    filename: str
    content_type: str
    content: bytes
    uri: str
    url: str
    url_expire_time: _timestamp_pb2.Timestamp
    size_bytes: int
    def __init__(self, kind: _Optional[_Union[ArtifactKind, str]] = ..., format: _Optional[_Union[TranscriptFormat, str]] = ..., language_code: _Optional[str] = ..., filename: _Optional[str] = ..., content_type: _Optional[str] = ..., content: _Optional[bytes] = ..., uri: _Optional[str] = ..., url: _Optional[str] = ..., url_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class PipelineResult(_message.Message):
    __slots__ = ("transcript", "speakers", "translations", "summary", "stems", "artifacts")
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    TRANSLATIONS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    STEMS_FIELD_NUMBER: _ClassVar[int]
    ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    transcript: _audio_pb2.Transcript
    speakers: _containers.RepeatedCompositeFieldContainer[_asr_service_pb2.SpeakerSummary]
    translations: _containers.RepeatedCompositeFieldContainer[TranscriptTranslation]
    summary: _summarization_service_pb2.Summary
    stems: _containers.RepeatedCompositeFieldContainer[_separation_service_pb2.SeparatedStem]
    artifacts: _containers.RepeatedCompositeFieldContainer[Artifact]
    def __init__(self, transcript: _Optional[_Union[_audio_pb2.Transcript, _Mapping]] = ..., speakers: _Optional[_Iterable[_Union[_asr_service_pb2.SpeakerSummary, _Mapping]]] = ..., translations: _Optional[_Iterable[_Union[TranscriptTranslation, _Mapping]]] = ..., summary: _Optional[_Union[_summarization_service_pb2.Summary, _Mapping]] = ..., stems: _Optional[_Iterable[_Union[_separation_service_pb2.SeparatedStem, _Mapping]]] = ..., artifacts: _Optional[_Iterable[_Union[Artifact, _Mapping]]] = ...) -> None: ...

class ProcessRequest(_message.Message):
    __slots__ = ("config", "audio")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    config: PipelineConfig
    audio: _audio_pb2.AudioSource
    def __init__(self, config: _Optional[_Union[PipelineConfig, _Mapping]] = ..., audio: _Optional[_Union[_audio_pb2.AudioSource, _Mapping]] = ...) -> None: ...

class ProcessResponse(_message.Message):
    __slots__ = ("result", "steps", "state", "audio_duration_ms", "processing_ms", "request_id")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_MS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    result: PipelineResult
    steps: _containers.RepeatedCompositeFieldContainer[StepStatus]
    state: JobState
    audio_duration_ms: int
    processing_ms: int
    request_id: str
    def __init__(self, result: _Optional[_Union[PipelineResult, _Mapping]] = ..., steps: _Optional[_Iterable[_Union[StepStatus, _Mapping]]] = ..., state: _Optional[_Union[JobState, str]] = ..., audio_duration_ms: _Optional[int] = ..., processing_ms: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "display_name", "state", "stage", "progress", "message", "steps", "error", "create_time", "start_time", "update_time", "finish_time", "expire_time", "audio_duration_ms", "labels", "request_id", "input_uri", "output_uri_prefix", "callback_url", "config", "result")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    AUDIO_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_URI_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_URI_PREFIX_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_URL_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    state: JobState
    stage: PipelineStage
    progress: float
    message: str
    steps: _containers.RepeatedCompositeFieldContainer[StepStatus]
    error: Status
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    audio_duration_ms: int
    labels: _containers.ScalarMap[str, str]
    request_id: str
    input_uri: str
    output_uri_prefix: str
    callback_url: str
    config: PipelineConfig
    result: PipelineResult
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., stage: _Optional[_Union[PipelineStage, str]] = ..., progress: _Optional[float] = ..., message: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[StepStatus, _Mapping]]] = ..., error: _Optional[_Union[Status, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., audio_duration_ms: _Optional[int] = ..., labels: _Optional[_Mapping[str, str]] = ..., request_id: _Optional[str] = ..., input_uri: _Optional[str] = ..., output_uri_prefix: _Optional[str] = ..., callback_url: _Optional[str] = ..., config: _Optional[_Union[PipelineConfig, _Mapping]] = ..., result: _Optional[_Union[PipelineResult, _Mapping]] = ...) -> None: ...

class CreateJobRequest(_message.Message):
    __slots__ = ("config", "audio", "request_id", "display_name", "labels", "output_uri_prefix", "callback_url")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_URI_PREFIX_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_URL_FIELD_NUMBER: _ClassVar[int]
    config: PipelineConfig
    audio: _audio_pb2.AudioSource
    request_id: str
    display_name: str
    labels: _containers.ScalarMap[str, str]
    output_uri_prefix: str
    callback_url: str
    def __init__(self, config: _Optional[_Union[PipelineConfig, _Mapping]] = ..., audio: _Optional[_Union[_audio_pb2.AudioSource, _Mapping]] = ..., request_id: _Optional[str] = ..., display_name: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., output_uri_prefix: _Optional[str] = ..., callback_url: _Optional[str] = ...) -> None: ...

class CreateJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id", "view")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    view: JobView
    def __init__(self, job_id: _Optional[str] = ..., view: _Optional[_Union[JobView, str]] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class JobFilter(_message.Message):
    __slots__ = ("states", "labels", "create_time_start", "create_time_end")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STATES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_START_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_END_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedScalarFieldContainer[JobState]
    labels: _containers.ScalarMap[str, str]
    create_time_start: _timestamp_pb2.Timestamp
    create_time_end: _timestamp_pb2.Timestamp
    def __init__(self, states: _Optional[_Iterable[_Union[JobState, str]]] = ..., labels: _Optional[_Mapping[str, str]] = ..., create_time_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., create_time_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "filter", "order_by", "view")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    filter: JobFilter
    order_by: JobOrderBy
    view: JobView
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[_Union[JobFilter, _Mapping]] = ..., order_by: _Optional[_Union[JobOrderBy, str]] = ..., view: _Optional[_Union[JobView, str]] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token", "total_size")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    total_size: int
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job_id", "state", "stage", "progress", "message", "event_time", "step", "job")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    state: JobState
    stage: PipelineStage
    progress: float
    message: str
    event_time: _timestamp_pb2.Timestamp
    step: StepStatus
    job: Job
    def __init__(self, job_id: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., stage: _Optional[_Union[PipelineStage, str]] = ..., progress: _Optional[float] = ..., message: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., step: _Optional[_Union[StepStatus, _Mapping]] = ..., job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class WatchJobResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: JobEvent
    def __init__(self, event: _Optional[_Union[JobEvent, _Mapping]] = ...) -> None: ...

class RenameSpeakersRequest(_message.Message):
    __slots__ = ("job_id", "speaker_names")
    class SpeakerNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_NAMES_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    speaker_names: _containers.ScalarMap[str, str]
    def __init__(self, job_id: _Optional[str] = ..., speaker_names: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RenameSpeakersResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class StreamProcessConfig(_message.Message):
    __slots__ = ("audio_format", "language_code", "task", "model", "interim_results", "translate_language_codes", "summarize", "save", "title", "silence_ms", "max_utterance_ms", "vad_threshold")
    AUDIO_FORMAT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INTERIM_RESULTS_FIELD_NUMBER: _ClassVar[int]
    TRANSLATE_LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    SUMMARIZE_FIELD_NUMBER: _ClassVar[int]
    SAVE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SILENCE_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_UTTERANCE_MS_FIELD_NUMBER: _ClassVar[int]
    VAD_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    audio_format: _audio_pb2.AudioFormat
    language_code: str
    task: _asr_service_pb2.Task
    model: str
    interim_results: bool
    translate_language_codes: _containers.RepeatedScalarFieldContainer[str]
    summarize: bool
    save: bool
    title: str
    silence_ms: int
    max_utterance_ms: int
    vad_threshold: float
    def __init__(self, audio_format: _Optional[_Union[_audio_pb2.AudioFormat, _Mapping]] = ..., language_code: _Optional[str] = ..., task: _Optional[_Union[_asr_service_pb2.Task, str]] = ..., model: _Optional[str] = ..., interim_results: _Optional[bool] = ..., translate_language_codes: _Optional[_Iterable[str]] = ..., summarize: _Optional[bool] = ..., save: _Optional[bool] = ..., title: _Optional[str] = ..., silence_ms: _Optional[int] = ..., max_utterance_ms: _Optional[int] = ..., vad_threshold: _Optional[float] = ...) -> None: ...

class StreamProcessRequest(_message.Message):
    __slots__ = ("config", "audio_content")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    config: StreamProcessConfig
    audio_content: bytes
    def __init__(self, config: _Optional[_Union[StreamProcessConfig, _Mapping]] = ..., audio_content: _Optional[bytes] = ...) -> None: ...

class LiveReady(_message.Message):
    __slots__ = ("session_id", "request_id", "idle_timeout_ms", "max_duration_ms")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    request_id: str
    idle_timeout_ms: int
    max_duration_ms: int
    def __init__(self, session_id: _Optional[str] = ..., request_id: _Optional[str] = ..., idle_timeout_ms: _Optional[int] = ..., max_duration_ms: _Optional[int] = ...) -> None: ...

class LiveSpeechActivity(_message.Message):
    __slots__ = ("offset_ms",)
    OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    offset_ms: int
    def __init__(self, offset_ms: _Optional[int] = ...) -> None: ...

class LivePartial(_message.Message):
    __slots__ = ("utterance", "text", "stable_text", "stability", "start_ms", "end_ms")
    UTTERANCE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    STABLE_TEXT_FIELD_NUMBER: _ClassVar[int]
    STABILITY_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    END_MS_FIELD_NUMBER: _ClassVar[int]
    utterance: int
    text: str
    stable_text: str
    stability: float
    start_ms: int
    end_ms: int
    def __init__(self, utterance: _Optional[int] = ..., text: _Optional[str] = ..., stable_text: _Optional[str] = ..., stability: _Optional[float] = ..., start_ms: _Optional[int] = ..., end_ms: _Optional[int] = ...) -> None: ...

class LiveFinal(_message.Message):
    __slots__ = ("utterance", "text", "start_ms", "end_ms", "language_code", "words")
    UTTERANCE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    END_MS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    utterance: int
    text: str
    start_ms: int
    end_ms: int
    language_code: str
    words: _containers.RepeatedCompositeFieldContainer[_audio_pb2.Word]
    def __init__(self, utterance: _Optional[int] = ..., text: _Optional[str] = ..., start_ms: _Optional[int] = ..., end_ms: _Optional[int] = ..., language_code: _Optional[str] = ..., words: _Optional[_Iterable[_Union[_audio_pb2.Word, _Mapping]]] = ...) -> None: ...

class LiveTranslation(_message.Message):
    __slots__ = ("utterance", "language_code", "text", "same_language")
    UTTERANCE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SAME_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    utterance: int
    language_code: str
    text: str
    same_language: bool
    def __init__(self, utterance: _Optional[int] = ..., language_code: _Optional[str] = ..., text: _Optional[str] = ..., same_language: _Optional[bool] = ...) -> None: ...

class LiveError(_message.Message):
    __slots__ = ("code", "http_status", "message", "utterance", "language_code")
    CODE_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    http_status: int
    message: str
    utterance: int
    language_code: str
    def __init__(self, code: _Optional[str] = ..., http_status: _Optional[int] = ..., message: _Optional[str] = ..., utterance: _Optional[int] = ..., language_code: _Optional[str] = ...) -> None: ...

class LiveDone(_message.Message):
    __slots__ = ("job_id", "duration_ms", "utterances", "reason", "job_state")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    UTTERANCES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    JOB_STATE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    duration_ms: int
    utterances: int
    reason: str
    job_state: JobState
    def __init__(self, job_id: _Optional[str] = ..., duration_ms: _Optional[int] = ..., utterances: _Optional[int] = ..., reason: _Optional[str] = ..., job_state: _Optional[_Union[JobState, str]] = ...) -> None: ...

class StreamProcessResponse(_message.Message):
    __slots__ = ("ready", "speech_start", "speech_end", "partial", "final", "translation", "error", "done")
    READY_FIELD_NUMBER: _ClassVar[int]
    SPEECH_START_FIELD_NUMBER: _ClassVar[int]
    SPEECH_END_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    ready: LiveReady
    speech_start: LiveSpeechActivity
    speech_end: LiveSpeechActivity
    partial: LivePartial
    final: LiveFinal
    translation: LiveTranslation
    error: LiveError
    done: LiveDone
    def __init__(self, ready: _Optional[_Union[LiveReady, _Mapping]] = ..., speech_start: _Optional[_Union[LiveSpeechActivity, _Mapping]] = ..., speech_end: _Optional[_Union[LiveSpeechActivity, _Mapping]] = ..., partial: _Optional[_Union[LivePartial, _Mapping]] = ..., final: _Optional[_Union[LiveFinal, _Mapping]] = ..., translation: _Optional[_Union[LiveTranslation, _Mapping]] = ..., error: _Optional[_Union[LiveError, _Mapping]] = ..., done: _Optional[_Union[LiveDone, _Mapping]] = ...) -> None: ...
