"""What a client is, as said in meetings, chats, calls and e-mails: goods, brands, marketplaces, schemes, volumes,
pains, conflicts. Extracted in the same model call as the interaction signals (the text is paid for once);
offline by a lexicon."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

from connectors.llm import offline as ext

KINDS = {
    "products": "Что продаёт",
    "brands": "Бренды",
    "marketplaces": "Маркетплейсы",
    "schemes": "Схемы работы",
    "volumes": "Объёмы",
    "pains": "Боли",
    "conflicts": "Конфликты",
}

MARKETPLACES = [
    ("Wildberries", re.compile(r"wildberries|вайлдберр|валдбер|\bwb\b|\bвб\b", re.I)),
    ("Ozon", re.compile(r"\bozon|\bозон", re.I)),
    ("Яндекс Маркет", re.compile(r"яндекс[ .-]?маркет|yandex[ .-]?market|\bям\b|\bym\b", re.I)),
    ("Мегамаркет", re.compile(r"мегамаркет|megamarket", re.I)),
    ("AliExpress", re.compile(r"aliexpress|алиэкспресс", re.I)),
    ("Lamoda", re.compile(r"lamoda|ламода", re.I)),
]
SCHEMES = [
    ("FBO", re.compile(r"\bfbo\b|\bфбо\b", re.I)),
    ("FBS", re.compile(r"\b(?:real)?fbs\b|\bфбс\b", re.I)),
    ("DBS", re.compile(r"\bdbs\b", re.I)),
]
# What each scheme means for the goods, in the words a curator may ask with («модель продаж», «сами возят на РЦ»,
# «собираем заказы поштучно»): the marketplaces' own definitions (Ozon and Wildberries seller help: FBO — sale from
# the marketplace's warehouse, FBS — from the seller's, DBS/realFBS — the seller also delivers).
SCHEME_MEANINGS = {
    "FBO": "модель продаж со склада маркетплейса: товар везут партиями на распределительные центры (РЦ) площадки, "
    "заказы собирает и доставляет покупателям сама площадка",
    "FBS": "модель продаж со склада продавца или фулфилмента: товар хранится у нас, каждый заказ покупателя мы "
    "собираем и упаковываем поштучно и сдаём площадке для доставки",
    "DBS": "модель продаж, где продавец сам хранит товар и сам доставляет заказы покупателям",
}
PRODUCTS = [
    ("одежда", r"одежд|футболк|плать|куртк|джинс|худи"),
    ("обувь", r"обув|кроссовк|ботин|туфл"),
    ("косметика", r"косметик|крем|шампун|уходов|парфюм"),
    ("детские товары", r"детск|игрушк|подгузник"),
    ("электроника", r"электроник|наушник|гаджет|смартфон|зарядк|кабел"),
    ("товары для дома", r"для дома|посуд|текстил|постельн|полотен|декор"),
    ("продукты питания", r"продукт[ыа]? питан|чай|кофе|снек|сладост|бад\b|бады"),
    ("спорттовары", r"спорт|фитнес|велосипед"),
    ("зоотовары", r"зоотовар|корм для|для животных|для собак|для кошек"),
    ("бытовая химия", r"бытов[а-я]* хими|моющ|стиральн"),
    ("аксессуары", r"аксессуар|сумк|рюкзак|бижутер|украшен"),
    ("мебель", r"мебел|стул|стол[аы]?\b"),
    ("автотовары", r"автотовар|автомобил|для авто"),
]
PRODUCT_RES = [(name, re.compile(pattern, re.I)) for name, pattern in PRODUCTS]
_BRAND = re.compile(r"бренд[аеуом]*\s+[«\"]([^»\"]{2,40})[»\"]", re.I)
_VOLUME = re.compile(
    r"\d[\d\s]*(?:тыс\.?|k)?\s*(?:заказ|отправл|отгруз|единиц|ед\.|шт|штук|паллет|короб|sku|артикул)", re.I
)
_PAIN = re.compile(
    r"не можем|не получается|задерж|долго|опять|снова|ошибк|пересорт|потерял|брак|штраф|дорого|не устраивает|"
    r"проблем|жалоб|не приняли|нет места|висит",
    re.I,
)
_CONFLICT = re.compile(r"уйти|уход|конкурент|расторг|другой фулфилмент|претензи|суд|недопустим|верните", re.I)


class ProfileFacts(BaseModel):
    products: list[str] = Field(default_factory=list)
    brands: list[str] = Field(default_factory=list)
    marketplaces: list[str] = Field(default_factory=list)
    schemes: list[str] = Field(default_factory=list)
    volumes: list[str] = Field(default_factory=list)
    pains: list[str] = Field(default_factory=list)
    conflicts: list[str] = Field(default_factory=list)

    @field_validator("*", mode="before")
    @classmethod
    def _strings(cls, value):
        if isinstance(value, str):
            value = [value]
        return [str(v).strip()[:200] for v in (value or []) if v and str(v).strip()][:10]

    def items(self) -> list[tuple[str, str, str]]:
        """(kind, key, display value); the key merges the same fact said in other words or case."""
        out = []
        for kind in KINDS:
            for value in getattr(self, kind):
                canonical = canonical_value(kind, value)
                if canonical:
                    out.append((kind, fact_key(kind, canonical), canonical))
        return out


def canonical_value(kind: str, value: str) -> str | None:
    if kind == "marketplaces":
        return next((name for name, rx in MARKETPLACES if rx.search(value)), value.strip() or None)
    if kind == "schemes":
        return next((name for name, rx in SCHEMES if rx.search(value)), None)
    return value.strip().rstrip(".") or None


def fact_key(kind: str, value: str) -> str:
    if kind in ("pains", "conflicts", "volumes"):  # sentences: the first words decide sameness
        return " ".join(re.findall(r"\w+", value.lower())[:8])
    return " ".join(re.findall(r"\w+", value.lower()))


def lexical_facts(text: str) -> ProfileFacts:
    sentences = ext.sentences(text)
    return ProfileFacts(
        products=[name for name, rx in PRODUCT_RES if rx.search(text)],
        brands=list(dict.fromkeys(m.group(1).strip() for m in _BRAND.finditer(text))),
        marketplaces=[name for name, rx in MARKETPLACES if rx.search(text)],
        schemes=[name for name, rx in SCHEMES if rx.search(text)],
        volumes=[s for s in sentences if _VOLUME.search(s)][:3],
        pains=[s for s in sentences if _PAIN.search(s)][:3],
        conflicts=[s for s in sentences if _CONFLICT.search(s)][:3],
    )
