//! The hand-written OpenAPI 3.1 document served at `/openapi.json`. Keep it in step
//! with `api.rs` when a route changes.

use serde_json::{json, Value};

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}})
}

fn page_param() -> Value {
    json!({"name": "page", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0, "default": 0}, "description": "0-based page index"})
}

/// The document.
pub fn document() -> Value {
    let unauthorized = error_response("missing, invalid or revoked API key");
    let not_found = error_response("no such job");
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "drawpipe dispatcher",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Submit engineering drawings (PNG, JPEG, TIFF, BMP, PDF, DXF) for staged analysis and follow their jobs. Errors answer {\"error\": \"<message>\"}. Any /v1 route may answer 429 when the key is over its rate, and every one but the event stream 503 when the dispatcher is at its bound of concurrent requests (both with Retry-After) or 408 past the request time limit."
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/jobs": {
                "post": {
                    "summary": "Submit a drawing",
                    "description": "Multipart with a `file` field (and optional `stages`, `priority`, `options`, `filename` fields), or the raw drawing as the body with any other content type and the same names as query parameters. The media type is recognised from the content.",
                    "parameters": [
                        {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 200}, "description": "A second submission with the same key returns the first job (200, duplicate: true)."},
                        {"name": "stages", "in": "query", "schema": {"type": "string"}, "description": "Comma-separated stage list; empty means every available stage. Dependencies and report are added."},
                        {"name": "priority", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 9, "default": 0}},
                        {"name": "traceparent", "in": "header", "schema": {"type": "string"}, "description": "W3C trace context of the caller: logged as a link to the job's trace."},
                        {"name": "filename", "in": "query", "schema": {"type": "string"}, "description": "Stored as its last path component, control and bidi-override characters replaced by `_`."},
                        {"name": "options", "in": "query", "schema": {"type": "string"}, "description": "A JSON object, as text."}
                    ],
                    "requestBody": {"required": true, "content": {
                        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                            "file": {"type": "string", "contentMediaType": "application/octet-stream"},
                            "stages": {"type": "string"},
                            "priority": {"type": "integer", "minimum": 0, "maximum": 9},
                            "options": {"type": "string", "description": "A JSON object, as text."},
                            "filename": {"type": "string"}
                        }}},
                        "application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}
                    }},
                    "responses": {
                        "202": {"description": "job queued", "headers": {"traceparent": {"description": "the job's W3C trace (trace id = the job id)", "schema": {"type": "string"}}}, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Submitted"}}}},
                        "200": {"description": "the idempotency key was used before: that job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Submitted"}}}},
                        "400": error_response("empty upload, unknown or unavailable stage, bad priority or options"),
                        "401": unauthorized,
                        "408": error_response("the request took longer than the time limit"),
                        "413": error_response("the upload is over the size limit"),
                        "415": error_response("not PNG, JPEG, TIFF, BMP, PDF or DXF"),
                        "429": error_response("the key is over its rate; Retry-After says when to retry"),
                        "503": error_response("a stage queue is deeper than the limit, or too many requests are in flight; Retry-After says when to retry")
                    }
                },
                "get": {
                    "summary": "List jobs, newest first",
                    "parameters": [
                        {"name": "status", "in": "query", "schema": {"$ref": "#/components/schemas/JobStatus"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "next_cursor of the previous page"},
                        {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "only jobs whose file name contains this (any case)"}
                    ],
                    "responses": {
                        "200": {"description": "a page of jobs", "content": {"application/json": {"schema": {"type": "object", "properties": {
                            "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/JobSummary"}},
                            "next_cursor": {"type": ["string", "null"]}
                        }}}}},
                        "400": error_response("bad status, limit or cursor"),
                        "401": unauthorized
                    }
                }
            },
            "/v1/jobs/{id}": {
                "parameters": [id_param()],
                "get": {
                    "summary": "A job with its stage runs",
                    "responses": {
                        "200": {"description": "the job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                        "401": unauthorized, "404": not_found
                    }
                },
                "delete": {
                    "summary": "Cancel a queued or running job",
                    "responses": {
                        "200": {"description": "cancelled", "content": {"application/json": {"schema": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "status": {"const": "cancelled"}}}}}},
                        "401": unauthorized, "404": not_found,
                        "409": error_response("the job already finished")
                    }
                }
            },
            "/v1/jobs/{id}/events": {
                "parameters": [id_param()],
                "get": {
                    "summary": "Server-sent events until the job finishes",
                    "description": "`event: stage` with {job_id, stage, status, attempts, at} for each stage status change (every stage that runs shows `running` then its end), then `event: job` with {job_id, status, error} when the job is terminal; then the stream ends.",
                    "responses": {"200": {"description": "the stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}}, "401": unauthorized, "404": not_found}
                }
            },
            "/v1/jobs/{id}/qc.csv": {
                "parameters": [id_param()],
                "get": {
                    "summary": "The inspection plan as CSV",
                    "description": "One row per inspection item, in the column order of a first-article inspection report: balloon, characteristic, nominal, unit, tolerance, lower_limit, upper_limit, method, sampling, raw. Items come from the `tolerance` stage (toleranced and fitted dimensions, threads, roughness, GD&T frames).",
                    "responses": {
                        "200": {"description": "CSV with a header row", "content": {"text/csv": {"schema": {"type": "string"}}}},
                        "401": unauthorized, "404": not_found,
                        "409": error_response("the job has not finished")
                    }
                }
            },
            "/v1/jobs/{id}/result": {
                "parameters": [id_param()],
                "get": {
                    "summary": "The job's report",
                    "responses": {
                        "200": {"description": "the report as stored", "content": {"application/json": {"schema": {"type": "object"}}}},
                        "401": unauthorized, "404": not_found,
                        "409": error_response("the job has not finished, or finished without a report")
                    }
                }
            },
            "/v1/jobs/{id}/overlay.png": {
                "parameters": [id_param(), page_param()],
                "get": {
                    "summary": "The page with what was read drawn on it: dimensions labelled with value and tolerance (dashed red when confidence < 0.9), GD&T frames, detections, a legend; the longer side at most 4000 px. While the job runs, the page with nothing drawn yet",
                    "responses": {"200": {"description": "PNG", "content": {"image/png": {}}}, "401": unauthorized, "404": error_response("no such job, no such page, or no page yet")}
                }
            },
            "/v1/jobs/{id}/dimensions.xlsx": {
                "parameters": [id_param()],
                "get": {
                    "summary": "The dimensions of a finished job as a spreadsheet (one row each: text, kind, nominal, deviations, fit, thread, count, unit, confidence, source, page)",
                    "responses": {"200": {"description": "XLSX", "content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}, "401": unauthorized, "404": not_found, "409": error_response("the job has not finished")}
                }
            },
            "/v1/jobs/{id}/dimensions/{n}": {
                "parameters": [id_param(), {"name": "n", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0}, "description": "the dimension's position in the report's dimensions"}],
                "patch": {
                    "summary": "Correct a dimension of a finished job: the report and the dimensions row show the corrected fields with a correction object (by, at, original); the correction is kept with who and when",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "minProperties": 1, "properties": {
                        "raw": {"type": "string"}, "kind": {"enum": ["linear", "diameter", "radius", "spherical_diameter", "spherical_radius", "angle", "chamfer", "thread", "roughness", "general_tolerance"]},
                        "nominal": {"type": "number"}, "upper": {"type": ["number", "null"]}, "lower": {"type": ["number", "null"]}, "fit": {"type": ["string", "null"]}
                    }}}}},
                    "responses": {"200": {"description": "the corrected dimension", "content": {"application/json": {"schema": {"type": "object"}}}}, "400": error_response("no field, an unknown field or a bad value"), "401": unauthorized, "404": error_response("no such job or dimension"), "409": error_response("the job has not finished")}
                }
            },
            "/v1/jobs/{id}/overlay.svg": {
                "parameters": [id_param(), page_param()],
                "get": {
                    "summary": "The overlay as SVG at the page's pixel size, the page embedded; each mark a <g class=\"mark\" data-kind=\"dimensions|gdt|detections\" data-index=\"N\"> whose index is the item's position in the report's array",
                    "responses": {"200": {"description": "SVG", "content": {"image/svg+xml": {}}}, "401": unauthorized, "404": error_response("no such job, no such page, or no page yet")}
                }
            },
            "/v1/jobs/{id}/page.png": {
                "parameters": [id_param(), page_param()],
                "get": {
                    "summary": "The page as preprocess stored it: the pixel frame of every box in the report",
                    "responses": {"200": {"description": "PNG", "content": {"image/png": {}}}, "401": unauthorized, "404": error_response("no such job, or no such page (yet)")}
                }
            },
            "/v1/corrections": corrections_path(),
            "/v1/dead-letters": dead_letters_path(),
            "/v1/dead-letters/{id}/requeue": resolve_path("requeue", "Run the stage again: the run and the stages skipped because of it go back to pending and the job reopens"),
            "/v1/dead-letters/{id}/discard": resolve_path("discard", "Accept the failure: the job stays as it is"),
            "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "ok", "content": {"text/plain": {}}}}}},
            "/readyz": {"get": {"summary": "Readiness: database and broker", "security": [], "responses": {
                "200": {"description": "ready"},
                "503": error_response("a check failed; the message names it")
            }}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "security": [], "responses": {"200": {"description": "text format 0.0.4", "content": {"text/plain": {}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "A key from `drawpipe-dispatcher keys create NAME` (dp_ and 40 hex digits)."}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "JobStatus": {"enum": ["queued", "running", "completed", "partial", "failed", "cancelled"]},
                "StageStatus": {"enum": ["pending", "queued", "running", "succeeded", "failed", "skipped", "cancelled"]},
                "Links": {"type": "object", "properties": {
                    "self": {"type": "string"}, "events": {"type": "string"}, "result": {"type": "string"}, "overlay": {"type": "string"}
                }},
                "Submitted": {"type": "object", "required": ["id", "status", "stages", "links"], "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "status": {"$ref": "#/components/schemas/JobStatus"},
                    "stages": {"type": "array", "items": {"type": "string"}},
                    "links": {"$ref": "#/components/schemas/Links"},
                    "duplicate": {"type": "boolean"}
                }},
                "JobSummary": {"type": "object", "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "status": {"$ref": "#/components/schemas/JobStatus"},
                    "filename": {"type": ["string", "null"]},
                    "source": {"enum": ["http", "amqp"]},
                    "priority": {"type": "integer"},
                    "stages": {"type": "array", "items": {"type": "string"}},
                    "error": {"type": ["string", "null"]},
                    "created_at": {"type": "string", "format": "date-time"},
                    "started_at": {"type": ["string", "null"], "format": "date-time"},
                    "finished_at": {"type": ["string", "null"], "format": "date-time"}
                }},
                "StageRun": {"type": "object", "properties": {
                    "stage": {"type": "string"},
                    "status": {"$ref": "#/components/schemas/StageStatus"},
                    "attempts": {"type": "integer"},
                    "worker": {"type": ["string", "null"]},
                    "device": {"type": ["string", "null"]},
                    "queued_at": {"type": ["string", "null"], "format": "date-time"},
                    "started_at": {"type": ["string", "null"], "format": "date-time"},
                    "finished_at": {"type": ["string", "null"], "format": "date-time"},
                    "duration_ms": {"type": ["number", "null"]},
                    "error": {"type": ["string", "null"]}
                }},
                "Job": {"allOf": [{"$ref": "#/components/schemas/JobSummary"}, {"type": "object", "properties": {
                    "stages": {"type": "array", "items": {"$ref": "#/components/schemas/StageRun"}},
                    "pages": {"type": "integer"},
                    "links": {"$ref": "#/components/schemas/Links"}
                }}]}
            }
        }
    })
}

/// `GET /v1/corrections` (apart: one `json!` for the whole document passes the
/// macro recursion limit).
fn corrections_path() -> Value {
    let unauthorized = error_response("missing, invalid or revoked API key");
    json!({
        "get": {
            "summary": "The caller's jobs holding corrections, by latest correction (oldest first): what `drawpipe corrections export` writes as ground truth",
            "parameters": [
                {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}, "description": "only jobs corrected after this time"},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
                {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "next_cursor of the previous page"}
            ],
            "responses": {
                "200": {"description": "jobs", "content": {"application/json": {"schema": {"type": "object", "required": ["jobs", "next_cursor"], "properties": {
                    "jobs": {"type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "filename": {"type": ["string", "null"]},
                        "corrected_dimensions": {"type": "integer"},
                        "last_corrected_at": {"type": "string", "format": "date-time"}
                    }}},
                    "next_cursor": {"type": ["string", "null"]}
                }}}}},
                "400": error_response("since, limit or cursor invalid"),
                "401": unauthorized
            }
        }
    })
}

fn dead_letter_schema() -> Value {
    json!({"type": "object", "properties": {
        "id": {"type": "integer"},
        "job_id": {"type": "string", "format": "uuid"},
        "stage": {"type": "string"},
        "attempt": {"type": "integer"},
        "error": {"type": "string"},
        "dead_at": {"type": "string", "format": "date-time"},
        "state": {"type": "string", "enum": ["open", "requeued", "discarded"]},
        "resolved_at": {"type": ["string", "null"], "format": "date-time"},
        "resolved_by": {"type": ["string", "null"]},
        "job_status": {"type": "string"},
        "filename": {"type": ["string", "null"]}
    }})
}

/// `GET /v1/dead-letters`.
fn dead_letters_path() -> Value {
    json!({
        "get": {
            "summary": "Stage messages RabbitMQ dead-lettered (the worker kept dying on them) for the caller's jobs, every tenant's for an admin key, oldest first",
            "parameters": [
                {"name": "state", "in": "query", "schema": {"type": "string", "enum": ["open", "requeued", "discarded", "all"], "default": "open"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
                {"name": "after", "in": "query", "schema": {"type": "integer"}, "description": "next_after of the previous page"}
            ],
            "responses": {
                "200": {"description": "dead letters", "content": {"application/json": {"schema": {"type": "object", "required": ["dead_letters", "next_after"], "properties": {
                    "dead_letters": {"type": "array", "items": dead_letter_schema()},
                    "next_after": {"type": ["integer", "null"]}
                }}}}},
                "400": error_response("state, limit or after invalid"),
                "401": error_response("missing, invalid or revoked API key")
            }
        }
    })
}

/// `POST /v1/dead-letters/{id}/requeue|discard`.
fn resolve_path(what: &str, summary: &str) -> Value {
    json!({
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
        "post": {
            "summary": summary,
            "operationId": format!("{what}DeadLetter"),
            "responses": {
                "200": {"description": "the dead letter, resolved", "content": {"application/json": {"schema": dead_letter_schema()}}},
                "401": error_response("missing, invalid or revoked API key"),
                "404": error_response("no such dead letter (or another tenant's)"),
                "409": error_response("already requeued or discarded, or (requeue) the job was cancelled")
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_every_route_and_the_scheme() {
        let doc = document();
        for path in [
            "/v1/jobs",
            "/v1/jobs/{id}",
            "/v1/jobs/{id}/events",
            "/v1/jobs/{id}/result",
            "/v1/jobs/{id}/qc.csv",
            "/v1/jobs/{id}/overlay.png",
            "/v1/jobs/{id}/overlay.svg",
            "/v1/jobs/{id}/dimensions.xlsx",
            "/v1/jobs/{id}/dimensions/{n}",
            "/v1/jobs/{id}/page.png",
            "/v1/dead-letters",
            "/v1/dead-letters/{id}/requeue",
            "/v1/dead-letters/{id}/discard",
            "/v1/corrections",
            "/healthz",
            "/readyz",
            "/metrics",
            "/openapi.json",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} is missing");
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
