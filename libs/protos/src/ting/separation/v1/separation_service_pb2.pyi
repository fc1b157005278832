from ting.audio.v1 import audio_pb2 as _audio_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Stem(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEM_UNSPECIFIED: _ClassVar[Stem]
    STEM_VOCALS: _ClassVar[Stem]
    STEM_ACCOMPANIMENT: _ClassVar[Stem]
    STEM_DRUMS: _ClassVar[Stem]
    STEM_BASS: _ClassVar[Stem]
    STEM_OTHER: _ClassVar[Stem]
    STEM_PIANO: _ClassVar[Stem]
    STEM_GUITAR: _ClassVar[Stem]

class OutputAudioFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTPUT_AUDIO_FORMAT_UNSPECIFIED: _ClassVar[OutputAudioFormat]
    OUTPUT_AUDIO_FORMAT_WAV: _ClassVar[OutputAudioFormat]
    OUTPUT_AUDIO_FORMAT_FLAC: _ClassVar[OutputAudioFormat]

class SeparationStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEPARATION_STAGE_UNSPECIFIED: _ClassVar[SeparationStage]
    SEPARATION_STAGE_LOADING_MODEL: _ClassVar[SeparationStage]
    SEPARATION_STAGE_DECODING: _ClassVar[SeparationStage]
    SEPARATION_STAGE_SEPARATING: _ClassVar[SeparationStage]
    SEPARATION_STAGE_ENCODING: _ClassVar[SeparationStage]
    SEPARATION_STAGE_UPLOADING: _ClassVar[SeparationStage]
STEM_UNSPECIFIED: Stem
STEM_VOCALS: Stem
STEM_ACCOMPANIMENT: Stem
STEM_DRUMS: Stem
STEM_BASS: Stem
STEM_OTHER: Stem
STEM_PIANO: Stem
STEM_GUITAR: Stem
OUTPUT_AUDIO_FORMAT_UNSPECIFIED: OutputAudioFormat
OUTPUT_AUDIO_FORMAT_WAV: OutputAudioFormat
OUTPUT_AUDIO_FORMAT_FLAC: OutputAudioFormat
SEPARATION_STAGE_UNSPECIFIED: SeparationStage
SEPARATION_STAGE_LOADING_MODEL: SeparationStage
SEPARATION_STAGE_DECODING: SeparationStage
SEPARATION_STAGE_SEPARATING: SeparationStage
SEPARATION_STAGE_ENCODING: SeparationStage
SEPARATION_STAGE_UPLOADING: SeparationStage

class StemOutputConfig(_message.Message):
    __slots__ = ("format", "sample_rate_hertz", "bits_per_sample", "uri_prefix")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HERTZ_FIELD_NUMBER: _ClassVar[int]
    BITS_PER_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    URI_PREFIX_FIELD_NUMBER: _ClassVar[int]
    format: OutputAudioFormat
    sample_rate_hertz: int
    bits_per_sample: int
    uri_prefix: str
    def __init__(self, format: _Optional[_Union[OutputAudioFormat, str]] = ..., sample_rate_hertz: _Optional[int] = ..., bits_per_sample: _Optional[int] = ..., uri_prefix: _Optional[str] = ...) -> None: ...

class SeparationConfig(_message.Message):
    __slots__ = ("stems", "engine", "output", "segment_ms", "overlap_ratio", "shift_count")
    STEMS_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_MS_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_RATIO_FIELD_NUMBER: _ClassVar[int]
    SHIFT_COUNT_FIELD_NUMBER: _ClassVar[int]
    stems: _containers.RepeatedScalarFieldContainer[Stem]
    engine: str
    output: StemOutputConfig
    segment_ms: int
    overlap_ratio: float
    shift_count: int
    def __init__(self, stems: _Optional[_Iterable[_Union[Stem, str]]] = ..., engine: _Optional[str] = ..., output: _Optional[_Union[StemOutputConfig, _Mapping]] = ..., segment_ms: _Optional[int] = ..., overlap_ratio: _Optional[float] = ..., shift_count: _Optional[int] = ...) -> None: ...

class SeparateRequest(_message.Message):
    __slots__ = ("config", "audio")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    config: SeparationConfig
    audio: _audio_pb2.AudioSource
    def __init__(self, config: _Optional[_Union[SeparationConfig, _Mapping]] = ..., audio: _Optional[_Union[_audio_pb2.AudioSource, _Mapping]] = ...) -> None: ...

class SeparateStreamRequest(_message.Message):
    __slots__ = ("config", "audio")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    config: SeparationConfig
    audio: _audio_pb2.AudioSource
    def __init__(self, config: _Optional[_Union[SeparationConfig, _Mapping]] = ..., audio: _Optional[_Union[_audio_pb2.AudioSource, _Mapping]] = ...) -> None: ...

class Loudness(_message.Message):
    __slots__ = ("integrated_lufs", "rms_dbfs", "peak_dbfs")
    INTEGRATED_LUFS_FIELD_NUMBER: _ClassVar[int]
    RMS_DBFS_FIELD_NUMBER: _ClassVar[int]
    PEAK_DBFS_FIELD_NUMBER: _ClassVar[int]
    integrated_lufs: float
    rms_dbfs: float
    peak_dbfs: float
    def __init__(self, integrated_lufs: _Optional[float] = ..., rms_dbfs: _Optional[float] = ..., peak_dbfs: _Optional[float] = ...) -> None: ...

class SeparatedStem(_message.Message):
    __slots__ = ("stem", "content", "uri", "format", "sample_rate_hertz", "channel_count", "bits_per_sample", "duration_ms", "size_bytes", "loudness")
    STEM_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HERTZ_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_COUNT_FIELD_NUMBER: _ClassVar[int]
    BITS_PER_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    LOUDNESS_FIELD_NUMBER: _ClassVar[int]
    stem: Stem
    content: bytes
    uri: str
    format: OutputAudioFormat
    sample_rate_hertz: int
    channel_count: int
    bits_per_sample: int
    duration_ms: int
    size_bytes: int
    loudness: Loudness
    def __init__(self, stem: _Optional[_Union[Stem, str]] = ..., content: _Optional[bytes] = ..., uri: _Optional[str] = ..., format: _Optional[_Union[OutputAudioFormat, str]] = ..., sample_rate_hertz: _Optional[int] = ..., channel_count: _Optional[int] = ..., bits_per_sample: _Optional[int] = ..., duration_ms: _Optional[int] = ..., size_bytes: _Optional[int] = ..., loudness: _Optional[_Union[Loudness, _Mapping]] = ...) -> None: ...

class SeparationMetadata(_message.Message):
    __slots__ = ("engine", "model", "duration_ms", "processing_ms", "device", "request_id")
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_MS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    engine: str
    model: str
    duration_ms: int
    processing_ms: int
    device: str
    request_id: str
    def __init__(self, engine: _Optional[str] = ..., model: _Optional[str] = ..., duration_ms: _Optional[int] = ..., processing_ms: _Optional[int] = ..., device: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SeparateResponse(_message.Message):
    __slots__ = ("stems", "metadata")
    STEMS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    stems: _containers.RepeatedCompositeFieldContainer[SeparatedStem]
    metadata: SeparationMetadata
    def __init__(self, stems: _Optional[_Iterable[_Union[SeparatedStem, _Mapping]]] = ..., metadata: _Optional[_Union[SeparationMetadata, _Mapping]] = ...) -> None: ...

class SeparationProgress(_message.Message):
    __slots__ = ("stage", "progress", "processed_ms", "duration_ms")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_MS_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    stage: SeparationStage
    progress: float
    processed_ms: int
    duration_ms: int
    def __init__(self, stage: _Optional[_Union[SeparationStage, str]] = ..., progress: _Optional[float] = ..., processed_ms: _Optional[int] = ..., duration_ms: _Optional[int] = ...) -> None: ...

class SeparationResult(_message.Message):
    __slots__ = ("stems", "metadata")
    STEMS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    stems: _containers.RepeatedCompositeFieldContainer[SeparatedStem]
    metadata: SeparationMetadata
    def __init__(self, stems: _Optional[_Iterable[_Union[SeparatedStem, _Mapping]]] = ..., metadata: _Optional[_Union[SeparationMetadata, _Mapping]] = ...) -> None: ...

class SeparateStreamResponse(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: SeparationProgress
    result: SeparationResult
    def __init__(self, progress: _Optional[_Union[SeparationProgress, _Mapping]] = ..., result: _Optional[_Union[SeparationResult, _Mapping]] = ...) -> None: ...

class ListEnginesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EngineInfo(_message.Message):
    __slots__ = ("name", "description", "model", "supported_stems", "default_stems", "loaded", "default", "device", "sample_rate_hertz", "channel_count", "default_segment_ms")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_STEMS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_STEMS_FIELD_NUMBER: _ClassVar[int]
    LOADED_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HERTZ_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_COUNT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_SEGMENT_MS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    model: str
    supported_stems: _containers.RepeatedScalarFieldContainer[Stem]
    default_stems: _containers.RepeatedScalarFieldContainer[Stem]
    loaded: bool
    default: bool
    device: str
    sample_rate_hertz: int
    channel_count: int
    default_segment_ms: int
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., model: _Optional[str] = ..., supported_stems: _Optional[_Iterable[_Union[Stem, str]]] = ..., default_stems: _Optional[_Iterable[_Union[Stem, str]]] = ..., loaded: _Optional[bool] = ..., default: _Optional[bool] = ..., device: _Optional[str] = ..., sample_rate_hertz: _Optional[int] = ..., channel_count: _Optional[int] = ..., default_segment_ms: _Optional[int] = ...) -> None: ...

class ListEnginesResponse(_message.Message):
    __slots__ = ("engines",)
    ENGINES_FIELD_NUMBER: _ClassVar[int]
    engines: _containers.RepeatedCompositeFieldContainer[EngineInfo]
    def __init__(self, engines: _Optional[_Iterable[_Union[EngineInfo, _Mapping]]] = ...) -> None: ...
