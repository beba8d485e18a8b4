"""``/docs``: the API's OpenAPI schema as one server-rendered page (the usual Swagger UI
loads its script from a CDN, which a closed network does not reach)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from newsingest.web.render import page

router = APIRouter(include_in_schema=False)
METHODS = ("get", "post", "put", "patch", "delete")


def _schema_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_schema_name(s) for s in schema["anyOf"])
    kind = str(schema.get("type", "object"))
    if kind == "array":
        return f"array of {_schema_name(schema.get('items', {}))}"
    return kind


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Each operation of the schema with what a reader needs: parameters, body, responses."""
    found = []
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [
                {
                    "name": p["name"],
                    "in": p["in"],
                    "required": p.get("required", False),
                    "type": _schema_name(p.get("schema", {})),
                    "description": p.get("description", ""),
                }
                for p in op.get("parameters", [])
            ]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            found.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "params": params,
                    "body": _schema_name(body["schema"]) if body else None,
                    "responses": sorted(op.get("responses", {})),
                    "anchor": f"{method}-{path}".replace("/", "-").strip("-"),
                }
            )
    return found


@router.get("/docs", response_class=HTMLResponse)
async def docs(request: Request) -> HTMLResponse:
    spec = request.app.openapi()
    schemas = spec.get("components", {}).get("schemas", {})
    return page(
        request,
        "docs.html",
        {
            "info": spec.get("info", {}),
            "operations": operations(spec),
            "schemas": {
                name: json.dumps(schema, indent=2, sort_keys=True)
                for name, schema in sorted(schemas.items())
            },
        },
    )
