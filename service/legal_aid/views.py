from flask_smorest import Blueprint

blp = Blueprint("legal_aid", __name__, url_prefix="/api/v1")
