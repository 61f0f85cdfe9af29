# The parts of LibYAML's C API (yaml.h, 0.2.x) that trackstore._yamlio_c uses: the event
# parser and the event emitter. Declarations only; the binding lives in _yamlio_c.pyx.

cdef extern from "yaml.h" nogil:

    const char *yaml_get_version_string()

    ctypedef unsigned char yaml_char_t

    ctypedef enum yaml_encoding_t:
        YAML_ANY_ENCODING
        YAML_UTF8_ENCODING
        YAML_UTF16LE_ENCODING
        YAML_UTF16BE_ENCODING

    ctypedef enum yaml_error_type_t:
        YAML_NO_ERROR
        YAML_MEMORY_ERROR
        YAML_READER_ERROR
        YAML_SCANNER_ERROR
        YAML_PARSER_ERROR
        YAML_COMPOSER_ERROR
        YAML_WRITER_ERROR
        YAML_EMITTER_ERROR

    ctypedef struct yaml_mark_t:
        size_t index
        size_t line
        size_t column

    ctypedef enum yaml_scalar_style_t:
        YAML_ANY_SCALAR_STYLE
        YAML_PLAIN_SCALAR_STYLE
        YAML_SINGLE_QUOTED_SCALAR_STYLE
        YAML_DOUBLE_QUOTED_SCALAR_STYLE
        YAML_LITERAL_SCALAR_STYLE
        YAML_FOLDED_SCALAR_STYLE

    ctypedef enum yaml_sequence_style_t:
        YAML_ANY_SEQUENCE_STYLE
        YAML_BLOCK_SEQUENCE_STYLE
        YAML_FLOW_SEQUENCE_STYLE

    ctypedef enum yaml_mapping_style_t:
        YAML_ANY_MAPPING_STYLE
        YAML_BLOCK_MAPPING_STYLE
        YAML_FLOW_MAPPING_STYLE

    ctypedef struct yaml_version_directive_t:
        int major
        int minor

    ctypedef struct yaml_tag_directive_t:
        yaml_char_t *handle
        yaml_char_t *prefix

    ctypedef enum yaml_event_type_t:
        YAML_NO_EVENT
        YAML_STREAM_START_EVENT
        YAML_STREAM_END_EVENT
        YAML_DOCUMENT_START_EVENT
        YAML_DOCUMENT_END_EVENT
        YAML_ALIAS_EVENT
        YAML_SCALAR_EVENT
        YAML_SEQUENCE_START_EVENT
        YAML_SEQUENCE_END_EVENT
        YAML_MAPPING_START_EVENT
        YAML_MAPPING_END_EVENT

    ctypedef struct yaml_event_stream_start_t:
        yaml_encoding_t encoding

    ctypedef struct yaml_event_document_start_tag_directives_t:
        yaml_tag_directive_t *start
        yaml_tag_directive_t *end

    ctypedef struct yaml_event_document_start_t:
        yaml_version_directive_t *version_directive
        yaml_event_document_start_tag_directives_t tag_directives
        int implicit

    ctypedef struct yaml_event_document_end_t:
        int implicit

    ctypedef struct yaml_event_alias_t:
        yaml_char_t *anchor

    ctypedef struct yaml_event_scalar_t:
        yaml_char_t *anchor
        yaml_char_t *tag
        yaml_char_t *value
        size_t length
        int plain_implicit
        int quoted_implicit
        yaml_scalar_style_t style

    ctypedef struct yaml_event_sequence_start_t:
        yaml_char_t *anchor
        yaml_char_t *tag
        int implicit
        yaml_sequence_style_t style

    ctypedef struct yaml_event_mapping_start_t:
        yaml_char_t *anchor
        yaml_char_t *tag
        int implicit
        yaml_mapping_style_t style

    ctypedef union yaml_event_data_t:
        yaml_event_stream_start_t stream_start
        yaml_event_document_start_t document_start
        yaml_event_document_end_t document_end
        yaml_event_alias_t alias
        yaml_event_scalar_t scalar
        yaml_event_sequence_start_t sequence_start
        yaml_event_mapping_start_t mapping_start

    ctypedef struct yaml_event_t:
        yaml_event_type_t type
        yaml_event_data_t data
        yaml_mark_t start_mark
        yaml_mark_t end_mark

    int yaml_stream_start_event_initialize(yaml_event_t *event, yaml_encoding_t encoding)
    int yaml_stream_end_event_initialize(yaml_event_t *event)
    int yaml_document_start_event_initialize(
        yaml_event_t *event,
        yaml_version_directive_t *version_directive,
        yaml_tag_directive_t *tag_directives_start,
        yaml_tag_directive_t *tag_directives_end,
        int implicit,
    )
    int yaml_document_end_event_initialize(yaml_event_t *event, int implicit)
    int yaml_scalar_event_initialize(
        yaml_event_t *event,
        const yaml_char_t *anchor,
        const yaml_char_t *tag,
        const yaml_char_t *value,
        int length,
        int plain_implicit,
        int quoted_implicit,
        yaml_scalar_style_t style,
    )
    int yaml_sequence_start_event_initialize(
        yaml_event_t *event,
        const yaml_char_t *anchor,
        const yaml_char_t *tag,
        int implicit,
        yaml_sequence_style_t style,
    )
    int yaml_sequence_end_event_initialize(yaml_event_t *event)
    int yaml_mapping_start_event_initialize(
        yaml_event_t *event,
        const yaml_char_t *anchor,
        const yaml_char_t *tag,
        int implicit,
        yaml_mapping_style_t style,
    )
    int yaml_mapping_end_event_initialize(yaml_event_t *event)
    void yaml_event_delete(yaml_event_t *event)

    ctypedef struct yaml_parser_t:
        yaml_error_type_t error
        const char *problem
        size_t problem_offset
        int problem_value
        yaml_mark_t problem_mark
        const char *context
        yaml_mark_t context_mark

    int yaml_parser_initialize(yaml_parser_t *parser)
    void yaml_parser_delete(yaml_parser_t *parser)
    void yaml_parser_set_input_string(
        yaml_parser_t *parser, const unsigned char *input, size_t size
    )
    void yaml_parser_set_encoding(yaml_parser_t *parser, yaml_encoding_t encoding)
    int yaml_parser_parse(yaml_parser_t *parser, yaml_event_t *event)

    ctypedef int yaml_write_handler_t(void *data, unsigned char *buffer, size_t size)

    ctypedef struct yaml_emitter_t:
        yaml_error_type_t error
        const char *problem

    int yaml_emitter_initialize(yaml_emitter_t *emitter)
    void yaml_emitter_delete(yaml_emitter_t *emitter)
    void yaml_emitter_set_output(
        yaml_emitter_t *emitter, yaml_write_handler_t *handler, void *data
    )
    void yaml_emitter_set_encoding(yaml_emitter_t *emitter, yaml_encoding_t encoding)
    void yaml_emitter_set_canonical(yaml_emitter_t *emitter, int canonical)
    void yaml_emitter_set_indent(yaml_emitter_t *emitter, int indent)
    void yaml_emitter_set_width(yaml_emitter_t *emitter, int width)
    void yaml_emitter_set_unicode(yaml_emitter_t *emitter, int unicode)
    int yaml_emitter_emit(yaml_emitter_t *emitter, yaml_event_t *event)
    int yaml_emitter_flush(yaml_emitter_t *emitter)
