from flask_smorest import Blueprint

blp = Blueprint("breakfast", __name__, url_prefix="/api/v1")
