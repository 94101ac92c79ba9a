"""Fixed lists of the ONLYOFFICE CRM (see shared/onlyoffice-crm-api.md): cultures and seeded currencies."""

from __future__ import annotations

from dataclasses import dataclass

# Culture names the CRM offers for an invoice's language.
LANGUAGES: tuple[str, ...] = (
    "en-US",
    "fr-FR",
    "de-DE",
    "es-ES",
    "en-GB",
    "ru-RU",
    "lv-LV",
    "pt-PT",
    "pt-BR",
    "it-IT",
    "tr-TR",
    "el-GR",
    "zh-CN",
    "pl-PL",
    "cs-CZ",
    "uk-UA",
    "vi-VN",
    "fi-FI",
    "az-Latn-AZ",
    "ko-KR",
    "ja-JP",
    "sl-SI",
    "sk-SK",
    "nl-NL",
    "es-MX",
    "de-CH",
    "bg-BG",
)


@dataclass(frozen=True)
class Currency:
    abbreviation: str
    title: str
    symbol: str
    is_basic: bool
    is_convertable: bool


# The 74 currencies seeded in a new CRM.
CURRENCIES: tuple[Currency, ...] = (
    Currency("AED", "UAE Dirham", "د.إ", False, True),
    Currency("AMD", "Armenian Dram", "֏", False, False),
    Currency("AOA", "Angolan Kwanza", "Kz", False, False),
    Currency("ARS", "Argentine Peso", "$", False, True),
    Currency("AUD", "Australian Dollar", "$", True, True),
    Currency("AZN", "Azerbaijani Manat", "₼", False, False),
    Currency("BDT", "Bangladeshi Taka", "৳", False, True),
    Currency("BGN", "Bulgarian Lev", "лв", False, True),
    Currency("BRL", "Brazilian Real", "R$", False, True),
    Currency("BYN", "Belarusian Ruble", "Br", False, False),
    Currency("BYR", "Belarusian Ruble (old)", "Br", False, False),
    Currency("CAD", "Canadian Dollar", "$", True, True),
    Currency("CHF", "Swiss Franc", "CHF", True, True),
    Currency("CLP", "Chilean Peso", "$", False, True),
    Currency("CNY", "Chinese Yuan", "¥", False, True),
    Currency("COP", "Colombian Peso", "$", False, True),
    Currency("CRC", "Costa Rican Colón", "₡", False, False),
    Currency("CUP", "Cuban Peso", "$", False, False),
    Currency("CZK", "Czech Koruna", "Kč", False, True),
    Currency("DKK", "Danish Krone", "kr", False, True),
    Currency("DOP", "Dominican Peso", "RD$", False, True),
    Currency("DZD", "Algerian Dinar", "دج", False, False),
    Currency("ETB", "Ethiopian Birr", "Br", False, False),
    Currency("EUR", "Euro", "€", True, True),
    Currency("GBP", "Pound Sterling", "£", True, True),
    Currency("GEL", "Georgian Lari", "₾", False, False),
    Currency("HKD", "Hong Kong Dollar", "HK$", False, True),
    Currency("HRK", "Croatian Kuna", "kn", False, True),
    Currency("HUF", "Hungarian Forint", "Ft", False, True),
    Currency("IDR", "Indonesian Rupiah", "Rp", False, True),
    Currency("ILS", "Israeli New Shekel", "₪", False, True),
    Currency("INR", "Indian Rupee", "₹", False, True),
    Currency("JPY", "Japanese Yen", "¥", True, True),
    Currency("KES", "Kenyan Shilling", "KSh", False, True),
    Currency("KRW", "South Korean Won", "₩", False, True),
    Currency("KWD", "Kuwaiti Dinar", "د.ك", False, True),
    Currency("KZT", "Kazakhstani Tenge", "₸", False, False),
    Currency("LTL", "Lithuanian Litas", "Lt", False, False),
    Currency("LVL", "Latvian Lats", "Ls", False, False),
    Currency("MAD", "Moroccan Dirham", "د.م.", False, True),
    Currency("MDL", "Moldovan Leu", "L", False, True),
    Currency("MGA", "Malagasy Ariary", "Ar", False, True),
    Currency("MNT", "Mongolian Tögrög", "₮", False, False),
    Currency("MUR", "Mauritian Rupee", "₨", False, True),
    Currency("MXN", "Mexican Peso", "$", False, True),
    Currency("MYR", "Malaysian Ringgit", "RM", False, True),
    Currency("NGN", "Nigerian Naira", "₦", False, True),
    Currency("NOK", "Norwegian Krone", "kr", False, True),
    Currency("NZD", "New Zealand Dollar", "$", False, True),
    Currency("OMR", "Omani Rial", "ر.ع.", False, True),
    Currency("PHP", "Philippine Peso", "₱", False, True),
    Currency("PKR", "Pakistani Rupee", "₨", False, True),
    Currency("PLN", "Polish Złoty", "zł", False, True),
    Currency("QAR", "Qatari Riyal", "ر.ق", False, True),
    Currency("RON", "Romanian Leu", "lei", False, True),
    Currency("RSD", "Serbian Dinar", "дин.", False, True),
    Currency("RUB", "Russian Ruble", "₽", False, True),
    Currency("SAR", "Saudi Riyal", "ر.س", False, True),
    Currency("SEK", "Swedish Krona", "kr", False, True),
    Currency("SGD", "Singapore Dollar", "$", False, True),
    Currency("THB", "Thai Baht", "฿", False, True),
    Currency("TND", "Tunisian Dinar", "د.ت", False, True),
    Currency("TRY", "Turkish Lira", "₺", False, True),
    Currency("TTD", "Trinidad and Tobago Dollar", "TT$", False, False),
    Currency("UAH", "Ukrainian Hryvnia", "₴", False, True),
    Currency("USD", "US Dollar", "$", True, True),
    Currency("UZS", "Uzbekistani Som", "soʻm", False, False),
    Currency("VEF", "Venezuelan Bolívar (old)", "Bs", False, False),
    Currency("VES", "Venezuelan Bolívar", "Bs.S", False, True),
    Currency("VND", "Vietnamese Đồng", "₫", False, True),
    Currency("XAF", "Central African CFA Franc", "FCFA", False, True),
    Currency("XOF", "West African CFA Franc", "CFA", False, True),
    Currency("XPF", "CFP Franc", "₣", False, True),
    Currency("ZAR", "South African Rand", "R", False, True),
)

CURRENCY_CODES: frozenset[str] = frozenset(c.abbreviation for c in CURRENCIES)
LANGUAGE_BY_KEY: dict[str, str] = {name.casefold(): name for name in LANGUAGES}

# Invoice template types: 0 = Eur, 1 = Rus.
TEMPLATE_TYPES: dict[str, int] = {"eur": 0, "rus": 1, "0": 0, "1": 1}
