from flask_smorest import Blueprint

blp = Blueprint("enrollment", __name__, url_prefix="/api/v1")
