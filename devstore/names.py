"""Built-in word lists for generated customers and products."""

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Ava", "Elijah", "Sophia", "James",
    "Isabella", "William", "Mia", "Benjamin", "Charlotte", "Lucas", "Harper", "Henry",
    "Evelyn", "Theodore", "Luna", "Jack", "Camila", "Levi", "Gianna", "Alexander", "Aria",
    "Jackson", "Ella", "Mateo", "Nora", "Daniel", "Hazel", "Michael", "Zoe", "Mason", "Riley",
    "Sebastian", "Lily", "Ethan", "Emilia", "Logan", "Layla", "Owen", "Chloe", "Samuel",
    "Priya", "Wei", "Aisha", "Kenji", "Fatima", "Diego", "Ingrid", "Tomás", "Yuki", "Omar",
    "Chiara", "Sven", "Nadia", "Rafael",
)

LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Patel", "Kim", "Chen", "Müller",
    "Rossi", "Kowalski", "Tanaka", "Okafor", "Silva", "Novak",
)

EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "inbox.example")

PRODUCT_ADJECTIVES = (
    "Classic", "Organic", "Everyday", "Premium", "Vintage", "Lightweight", "Cozy", "Handmade",
    "Recycled", "Signature", "Essential", "Deluxe", "Minimal", "Rugged", "Soft", "Bold",
)

PRODUCT_NOUNS = (
    ("Tee", "Apparel"), ("Hoodie", "Apparel"), ("Beanie", "Accessories"), ("Tote Bag", "Bags"),
    ("Backpack", "Bags"), ("Mug", "Home"), ("Candle", "Home"), ("Throw Blanket", "Home"),
    ("Coffee Beans", "Food"), ("Green Tea", "Food"), ("Granola", "Food"), ("Notebook", "Stationery"),
    ("Water Bottle", "Outdoors"), ("Socks", "Apparel"), ("Face Serum", "Beauty"),
    ("Hand Cream", "Beauty"), ("Yoga Mat", "Fitness"), ("Sunglasses", "Accessories"),
)

VENDORS = ("Northwind", "Acme Goods", "Blue Harbor", "Juniper & Co", "Foxglove", "Tidewater")

VARIANT_OPTIONS = (
    ("Small", "Medium", "Large"),
    ("Black", "White", "Sand"),
    ("250g", "500g", "1kg"),
)

PRICE_POINTS = (900, 1200, 1500, 1800, 2200, 2500, 2900, 3500, 4200, 4900, 5900, 7500, 9900)

DISCOUNT_CODES = (("WELCOME10", 10), ("SPRING15", 15), ("VIP20", 20))

# (city, province code, zip, country code) for generated shipping addresses.
PLACES = (
    ("Portland", "OR", "97205", "US"), ("Austin", "TX", "78701", "US"),
    ("Brooklyn", "NY", "11201", "US"), ("Denver", "CO", "80202", "US"),
    ("Chicago", "IL", "60607", "US"), ("Seattle", "WA", "98101", "US"),
    ("Toronto", "ON", "M5V 2T6", "CA"), ("Vancouver", "BC", "V6B 1A1", "CA"),
    ("London", "", "SW1A 1AA", "GB"), ("Berlin", "", "10115", "DE"),
    ("Los Angeles", "CA", "90012", "US"), ("San Francisco", "CA", "94103", "US"),
    ("Phoenix", "AZ", "85004", "US"), ("Honolulu", "HI", "96813", "US"),
    ("Miami", "FL", "33130", "US"), ("Indianapolis", "IN", "46204", "US"),
    ("Montréal", "QC", "H2Y 1C6", "CA"), ("Calgary", "AB", "T2P 1J9", "CA"),
    ("Paris", "", "75001", "FR"), ("Lyon", "", "69001", "FR"),
    ("Manchester", "", "M1 1AE", "GB"), ("München", "", "80331", "DE"),
    ("Sydney", "NSW", "2000", "AU"), ("Melbourne", "VIC", "3000", "AU"),
    ("Perth", "WA", "6000", "AU"), ("Brisbane", "QLD", "4000", "AU"),
)

STREETS = ("Main St.", "Oak Avenue", "Maple Dr", "Cedar Lane", "Elm Street", "Pine Rd.",
           "Harbor Way", "Sunset Blvd", "Lakeview Terrace", "Mill Road")
