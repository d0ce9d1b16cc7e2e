"The FastAPI service over `ocr6_scoring.service` (see app.py)."
