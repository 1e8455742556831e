"""Demo rest stations in Yangzhou (扬州), for ``flask --app wsgi seed-demo``; idempotent by code.

Coordinates are GCJ-02, as WeChat's map shows them; the centre of town
(文昌阁) is about 32.394, 119.432.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from models import db
from models.station import Station
from service.common import clock
from service.stations import hours
from service.stations.schemas import canonical_amenities

DAY = "08:00-20:00"
ALL_DAY = "24h"
LUNCH_BREAK = {d: ["07:00-11:30", "13:30-21:00"] for d in hours.DAYS}
NIGHT = {d: ["18:00-02:00"] for d in hours.DAYS}
WEEKDAYS = {d: ["08:30-17:30"] for d in hours.DAYS[:5]}
EARLY = {d: ["05:00-09:00", "11:00-14:00"] for d in hours.DAYS}

CITY = "扬州市总工会"
GL = "广陵区总工会"
HJ = "邗江区总工会"
COURIER = "扬州市快递行业工会联合会"
RIDE = "扬州市网约车司机工会联合会"
TRUCK = "扬州市货车司机工会联合会"

# code, name, address, lat, lng, phone, amenities, hours, organization
STATIONS = [
    ("YZ-GL-001", "文昌阁户外劳动者驿站", "广陵区文昌中路与汶河南路交叉口东南角", 32.39381, 119.43182, "0514-87321001",
     "water,hot_meal,charging,toilet,rest,air_conditioning,first_aid,wifi", ALL_DAY, GL),
    ("YZ-GL-002", "东关街工会驿站", "广陵区东关街298号", 32.39752, 119.44351, "0514-87321002",
     "water,charging,rest,wifi,umbrella", DAY, GL),
    ("YZ-GL-003", "何园环卫工人爱心驿站", "广陵区徐凝门街66号", 32.38663, 119.44318, "0514-87321003",
     "water,hot_meal,toilet,rest", EARLY, GL),
    ("YZ-GL-004", "运河三湾户外劳动者驿站", "广陵区古运河三湾公园东门", 32.36812, 119.43806, "0514-87321004",
     "water,toilet,rest,first_aid,umbrella", DAY, GL),
    ("YZ-GL-005", "汤汪快递小哥之家", "广陵区汤汪路158号", 32.38004, 119.47015, "0514-87321005",
     "water,charging,rest,repair_kit", LUNCH_BREAK, COURIER),
    ("YZ-GL-006", "万福路外卖骑手驿站", "广陵区万福西路与运河北路交叉口", 32.39907, 119.47802, "0514-87321006",
     "water,hot_meal,charging,rest,wifi,repair_kit", NIGHT, GL),
    ("YZ-GL-007", "湾头镇工会驿站", "广陵区湾头镇壁虎路18号", 32.43805, 119.46217, "0514-87321007",
     "water,toilet,rest", WEEKDAYS, GL),
    ("YZ-GL-008", "扬州东站网约车司机之家", "广陵区扬州东站西广场停车场", 32.39052, 119.49503, "0514-87321008",
     "water,hot_meal,charging,toilet,rest,air_conditioning,wifi", ALL_DAY, RIDE),
    ("YZ-HJ-001", "京华城户外劳动者驿站", "邗江区文昌西路京华城北门", 32.39301, 119.38205, "0514-87322001",
     "water,charging,toilet,rest,air_conditioning,wifi", ALL_DAY, HJ),
    ("YZ-HJ-002", "双桥街道职工驿站", "邗江区双桥路与汶河北路交叉口", 32.39603, 119.41207, "0514-87322002",
     "water,hot_meal,charging,rest,nursing_room,first_aid", DAY, HJ),
    ("YZ-HJ-003", "邗江区总工会职工服务驿站", "邗江区邗江中路426号", 32.37724, 119.39902, "0514-87322003",
     "water,hot_meal,charging,toilet,rest,nursing_room,air_conditioning,first_aid,wifi", LUNCH_BREAK, HJ),
    ("YZ-HJ-004", "扬州西站快递驿站", "邗江区扬子江北路与兴城西路交叉口", 32.38302, 119.36508, "0514-87322004",
     "water,charging,rest,repair_kit", DAY, COURIER),
    ("YZ-HJ-005", "蒋王街道户外劳动者驿站", "邗江区蒋王街道新甘泉西路88号", 32.37006, 119.35811, "0514-87322005",
     "water,toilet,rest,umbrella", WEEKDAYS, HJ),
    ("YZ-HJ-006", "汊河街道环卫驿站", "邗江区汊河街道吴州东路12号", 32.35508, 119.39302, "0514-87322006",
     "water,hot_meal,rest", EARLY, HJ),
    ("YZ-HJ-007", "瘦西湖路骑手驿站", "邗江区瘦西湖路与长春路交叉口", 32.41203, 119.40608, "0514-87322007",
     "water,charging,rest,wifi", NIGHT, HJ),
    ("YZ-HJ-008", "念泗桥爱心驿站", "邗江区念泗二村东门", 32.40102, 119.40003, "0514-87322008",
     "water,hot_meal,toilet,rest,air_conditioning", DAY, HJ),
    ("YZ-HJ-009", "甘泉街道户外劳动者驿站", "邗江区甘泉街道甘泉路201号", 32.43004, 119.36007, "0514-87322009",
     "water,rest", WEEKDAYS, HJ),
    ("YZ-HJ-010", "文汇路职工驿站（改造中）", "邗江区文汇西路与大学南路交叉口", 32.38855, 119.40810, "0514-87322010",
     "water,charging,toilet,rest,wifi", ALL_DAY, HJ),
    ("YZ-JD-001", "龙川广场户外劳动者驿站", "江都区龙川广场西侧", 32.43406, 119.56702, "0514-86221001",
     "water,hot_meal,charging,toilet,rest,first_aid", DAY, CITY),
    ("YZ-JD-002", "仙女镇快递驿站", "江都区仙女镇长江路21号", 32.42908, 119.55203, "0514-86221002",
     "water,charging,rest,repair_kit,umbrella", LUNCH_BREAK, COURIER),
    ("YZ-JD-003", "大桥镇工会驿站", "江都区大桥镇通江路9号", 32.34005, 119.68008, "0514-86221003",
     "water,toilet,rest", WEEKDAYS, CITY),
    ("YZ-KF-001", "扬子津路户外劳动者驿站", "经济技术开发区扬子津路与江阳路交叉口", 32.36204, 119.41806,
     "0514-87323001",
     "water,charging,rest,air_conditioning", DAY, CITY),
    ("YZ-KF-002", "施桥货车司机之家", "经济技术开发区施桥镇沿江公路服务区", 32.32408, 119.45207, "0514-87323002",
     "water,hot_meal,charging,toilet,rest,first_aid,wifi,repair_kit", ALL_DAY, TRUCK),
    ("YZ-KF-003", "快递产业园职工驿站", "经济技术开发区金山路快递产业园1号楼", 32.34506, 119.43208, "0514-87323003",
     "water,hot_meal,charging,rest,repair_kit", NIGHT, COURIER),
    ("YZ-SX-001", "瘦西湖北门户外劳动者驿站", "蜀冈-瘦西湖风景名胜区平山堂东路北门广场", 32.41706, 119.42305,
     "0514-87324001", "water,toilet,rest,first_aid,umbrella", DAY, CITY),
    ("YZ-SX-002", "长春路环卫工人驿站", "蜀冈-瘦西湖风景名胜区长春路东段", 32.40907, 119.41502, "0514-87324002",
     "water,hot_meal,toilet,rest", EARLY, CITY),
    ("YZ-SX-003", "杭集镇户外劳动者驿站", "生态科技新城杭集镇曙光路6号", 32.36508, 119.52505, "0514-87324003",
     "water,charging,rest", DAY, CITY),
    ("YZ-YZ-001", "仪征真州户外劳动者驿站", "仪征市真州镇工农南路", 32.27203, 119.18406, "0514-83421001",
     "water,hot_meal,charging,toilet,rest", DAY, CITY),
    ("YZ-GY-001", "高邮盂城驿站", "高邮市海潮东路与屏淮路交叉口", 32.78105, 119.45906, "0514-84621001",
     "water,charging,toilet,rest,air_conditioning", LUNCH_BREAK, CITY),
    ("YZ-BY-001", "宝应安宜户外劳动者驿站", "宝应县安宜镇叶挺路", 33.24003, 119.36004, "0514-88221001",
     "water,charging,rest,umbrella", DAY, CITY),
]
CLOSED_FOR_WORKS = "YZ-HJ-010"


def seed(ctx) -> None:
    """Create the demo stations that do not exist yet (by code), then index them."""
    orgs = ctx["orgs"]
    existing = set(db.session.scalars(select(Station.code).where(
        Station.code.in_([s[0] for s in STATIONS]), Station.deleted_at.is_(None))))
    now = clock.now()
    today = clock.today_local()
    created = []
    for code, name, address, lat, lng, phone, amenities, opening, org_name in STATIONS:
        if code in existing:
            continue
        closure = None
        if code == CLOSED_FOR_WORKS:
            closure = {"from": (today - dt.timedelta(days=1)).isoformat(),
                       "until": (today + dt.timedelta(days=6)).isoformat(), "reason": "空调及卫生间改造，暂停开放"}
        org = orgs.get(org_name) or ctx["city"]
        station = Station(code=code, name=name, address=address, lat=lat, lng=lng, phone=phone,
                          amenities=canonical_amenities(amenities.split(",")), opening_hours=hours.normalise(opening),
                          closure=closure, photos=[], organization_id=org.id, created_at=now, updated_at=now)
        db.session.add(station)
        created.append(station)
    db.session.commit()
